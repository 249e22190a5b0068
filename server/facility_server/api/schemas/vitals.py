"""Health kiosks (issue 7): members, consents, readings, crisis alerts.

Values appear only in :class:`ReadingPublic` and :class:`CrisisPublic`, which only the
clinician role gets (each read audited with its purpose). No schema returns a
pseudonym except the enrolment's echo to the person who typed it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from facility_contracts.vitals import PSEUDONYM_PATTERN
from pydantic import Field

from facility_server.api.schemas.base import In, Out
from facility_server.domain import Instant, Name, ShortText

#: Why a person reads reading values (audited with every read).
ReadPurpose = Literal["crisis_follow_up", "care_review", "member_request"]
ConsentPurpose = Literal["health_monitoring"]


class MemberCreate(In):
    """A member to enrol: the pseudonym of their card (computed at the complex, never the
    card number) and the name the health station knows them by."""

    pseudonym: str = Field(pattern=PSEUDONYM_PATTERN, description="m1- and 32 hex digits.")
    display_name: Name


class ConsentCreate(In):
    """A separate consent (PIPL art. 29) as given on the signed form."""

    purpose: ConsentPurpose = "health_monitoring"
    granted_at: Instant | None = Field(
        None, description="When the member consented (default: now); not in the future."
    )
    evidence: ShortText = Field(min_length=1, description="Proof, e.g. the form's number.")


class ConsentPublic(Out):
    """A consent and its withdrawal."""

    id: int
    member_id: int
    purpose: str
    granted_at: datetime
    recorded_at: datetime
    recorded_by: str
    evidence: str
    withdrawn_at: datetime | None
    withdrawn_by: str | None


class MemberPublic(Out):
    """A member (no pseudonym) with their consents."""

    id: int
    complex_id: int
    display_name: str
    enrolled_at: datetime
    enrolled_by: str
    consented: bool = Field(description="A health_monitoring consent is in force now.")
    consents: list[ConsentPublic]


class WithdrawalPublic(Out):
    """A withdrawn consent and what was deleted with it (PIPL art. 47)."""

    consent: ConsentPublic
    readings_deleted: int
    sessions_unlinked: int


class ReadingPublic(Out):
    """One kept reading (clinician only)."""

    id: int
    session_id: int
    type: str
    value: float
    unit: str
    loinc: str
    flag: str = Field(description="crisis_low, low, normal, high, crisis_high, no_reference.")
    ts: datetime = Field(description="Reading time (UTC).")
    space: str
    kiosk: str


class CrisisMember(Out):
    """Who the crisis reading belongs to (only with consent)."""

    id: int
    display_name: str


class CrisisDirection(Out):
    """A reading type of the session in a crisis range, and which side (no value)."""

    type: str
    direction: Literal["low", "high"]


class CrisisPublic(Out):
    """A crisis alert with its session: values and member only for the clinician."""

    alert_id: int
    state: str
    title: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    kiosk: str
    space: str
    ts: datetime | None = Field(description="Reading time (UTC); None once purged.")
    identified: bool = Field(
        description="The member is known (consent at the reading time, not withdrawn or "
        "erased since); else find the person at the kiosk."
    )
    crisis_readings: list[CrisisDirection] = Field(
        description="Which reading types were in a crisis range and on which side, also "
        "without consent (empty once purged)."
    )
    member: CrisisMember | None = Field(description="None without consent or after erasure.")
    readings: list[ReadingPublic]


class CrisisResolve(In):
    """How a crisis follow-up ended: a ``resolution`` from a fixed list, no free text
    (the alert and its notifications are read outside the health station)."""

    resolution: Literal["followed_up", "referred", "no_contact", "measurement_error"]
