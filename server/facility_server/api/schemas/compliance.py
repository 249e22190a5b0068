"""Compliance: the board of a complex today, occurrence history, rules, contacts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from facility_server.api.common import MAX_ID
from facility_server.api.schemas.base import In, Out
from facility_server.domain import Code, Name

OccurrenceState = Literal["pending", "due", "on_time", "late", "missed", "excused", "unknown"]
Topic = Literal["tasks", "devices", "health"]


class CheckInPublic(Out):
    """A check-in (who: the staff code, never the badge)."""

    id: int
    ts: datetime = Field(description="Event time (UTC).")
    received_at: datetime = Field(description="When the server got it (UTC).")
    checkpoint: str
    device: str
    staff: str | None = Field(description="Staff code of the badge.")
    clock: str = Field(description="synced, unsynced or estimated (device clock wrong).")


class OccurrencePublic(Out):
    """One due instance of a rule and its state."""

    key: str = Field(description="2026-06-02, 2026-06-02T09:00, 2026-W23, 2026-06, 2026.")
    day: date = Field(description="Local date it belongs to (a quota: its period's last day).")
    state: OccurrenceState
    start: datetime = Field(description="Check-ins count from (UTC).")
    deadline: datetime = Field(description="Done before this is on time (UTC).")
    alert_at: datetime = Field(description="Missed is alerted at (deadline + grace, UTC).")
    until: datetime = Field(description="Check-ins count as late until (UTC).")
    done_at: datetime | None = None
    reported_at: datetime | None = Field(None, description="When the doing check-in arrived.")
    reported_late: bool = Field(False, description="Arrived after alert_at (late data).")
    done: int = Field(description="Checkpoints visited / check-ins counted.")
    needed: int
    missing: list[str] = Field(description="Checkpoints not visited (patrol rounds).")
    reason: str = Field(description="Why excused (closed day, public holiday) or unknown.")
    checkins: list[CheckInPublic] = Field(default_factory=list)
    alert_id: int | None = None


class RulePublic(Out):
    """A task rule."""

    id: int
    complex_id: int
    space_id: int
    code: str
    name: str
    kind: str
    task: str
    enabled: bool
    params: dict[str, Any]


class BoardRule(RulePublic):
    """A rule on the board with today's occurrences (current period for quotas)."""

    occurrences: list[OccurrencePublic]


class BoardSpace(Out):
    """A space with rules."""

    id: int
    code: str
    name: str
    type: str
    rules: list[BoardRule]


class BoardPublic(Out):
    """Today's compliance board of a complex (local date in its zone)."""

    complex_id: int
    site_id: str
    name: str
    local_date: date
    now: datetime
    counts: dict[str, int] = Field(description="Occurrences per state.")
    spaces: list[BoardSpace]


class HistoryItem(OccurrencePublic):
    """A stored occurrence."""

    id: int
    rule_id: int
    rule: str
    complex_id: int
    space_id: int


class ContactCreate(In):
    """A contact at a street or district (escalation) or at a complex."""

    scope_kind: Literal["complex", "street", "district"]
    scope_id: int = Field(ge=1, le=MAX_ID, strict=True)
    code: Code
    name: Name
    url: str = Field(
        min_length=3,
        max_length=1000,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="Apprise URL (json://, dingtalk://, wecombot://, mailto://); stored, "
        "never returned whole.",
    )
    topics: list[Topic] = Field(["tasks"], min_length=1, max_length=3)
    staff_code: Code | None = None

    @field_validator("url")
    @classmethod
    def _apprise(cls, value: str) -> str:
        from facility_server.notify.sender import check_url

        return check_url(value)


class ContactPublic(Out):
    """A contact (its URL with secrets hidden)."""

    id: int
    scope_kind: str
    scope_id: int
    code: str
    name: str
    url: str = Field(description="Masked: tokens and passwords hidden.")
    channel: str
    topics: list[str]
    staff_code: str | None
    active: bool
