"""Task rules as data: what must be done in a space, when, and how it is proven.

Three kinds, chosen by ``kind`` (pydantic, unknown keys refused, every field described):

- ``daily``: one check-in of ``task`` on every open day of the space, in a window from
  ``start`` to ``deadline`` (``"HH:MM"``, or ``"opening"`` = the day's first opening
  minus ``before_opening_min``). A deadline at or before ``start`` is on the next day
  (the window crosses midnight). Source: 4+5+X standard, 儿童憩戏 "每日消毒清洁设施"
  (../shared/reference, 5 featured services, item 5).
- ``patrol``: while the space is open, a round every ``every_min`` minutes from each
  opening (plus ``offset_min``); each round visits every listed checkpoint within
  ``window_min``. Source: the same clause, "安排专人安全巡查".
- ``quota``: at least ``count`` check-ins of ``task`` per ``period`` (ISO week, calendar
  month or year, local time): weekly equipment maintenance (体育健身 "定期维护器材"),
  a health lecture or free clinic a month (养老服务 "每月至少组织1次健康讲座或义诊"),
  four sports events a year (体育健身 "每年举办不少于4次社区运动会或培训"), two job
  events a year (就业帮扶 "每年至少开展2场技能提升或促就业相关活动").

All times are local wall-clock times of the complex; durations are minutes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from facility_contracts.envelope import TaskKind
from facility_contracts.ids import ID_PATTERN
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from facility_server.opening import parse_hhmm

RuleKind = Literal["daily", "patrol", "quota"]
Period = Literal["week", "month", "year"]
RuleCode = Annotated[str, Field(pattern=ID_PATTERN)]


def _check_hhmm(value: str) -> str:
    parse_hhmm(value)
    return value


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    checkpoints: tuple[RuleCode, ...] = Field(
        (), max_length=50, description="Checkpoint codes that count; empty = any in the space."
    )
    grace_min: int = Field(
        15, ge=0, le=1440, description="Minutes after the deadline before 'missed' is alerted."
    )
    escalate_after_min: int | None = Field(
        30,
        ge=1,
        le=10080,
        description="Minutes an alert may stay unacknowledged before it goes up one level; "
        "null = never escalate.",
    )
    responsible: RuleCode | None = Field(
        None, description="Staff code of the person responsible (named in alerts)."
    )


class DailyRule(_Rule):
    """Once on every open day, inside a window that may cross midnight."""

    kind: Literal["daily"] = Field("daily", description="Rule kind.")
    task: TaskKind = Field("disinfection", description="Check-in task that satisfies it.")
    start: str = Field("00:00", description="Window start, local HH:MM.")
    deadline: str = Field(
        "opening", description="Local HH:MM (24:00 = midnight after), or 'opening'."
    )
    before_opening_min: int = Field(
        0, ge=0, le=720, description="With deadline 'opening': minutes before the opening."
    )
    late_min: int = Field(
        720,
        ge=0,
        le=1440,
        description="After the deadline, minutes in which a check-in still counts as late "
        "(never into the next day's window).",
    )

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        if _check_hhmm(value) == "24:00":
            raise ValueError(
                "start must be 00:00-23:59 (24:00 is the next day's 00:00), got '24:00'"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DailyRule:
        if self.deadline != "opening":
            if self.before_opening_min:
                raise ValueError(
                    f"before_opening_min ({self.before_opening_min}) applies only with "
                    f"deadline 'opening', got deadline {self.deadline!r}"
                )
            if parse_hhmm(self.deadline) == parse_hhmm(self.start):
                raise ValueError(
                    f"deadline {self.deadline!r} equals start {self.start!r}: "
                    "a window needs a length (24:00 is the end of the day)"
                )
        return self

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, value: str) -> str:
        return value if value == "opening" else _check_hhmm(value)


class PatrolRule(_Rule):
    """Rounds every ``every_min`` minutes while the space is open."""

    kind: Literal["patrol"] = Field("patrol", description="Rule kind.")
    task: TaskKind = Field("patrol", description="Check-in task that counts.")
    checkpoints: tuple[RuleCode, ...] = Field(
        min_length=1, max_length=50, description="Checkpoints every round must visit."
    )
    every_min: int = Field(ge=5, le=1440, description="Minutes between round starts.")
    window_min: int = Field(ge=1, le=1440, description="Minutes a round has to visit all.")
    offset_min: int = Field(0, ge=0, le=1440, description="First round, minutes after opening.")
    grace_min: int = Field(5, ge=0, le=1440, description="Minutes after the window before alert.")

    @model_validator(mode="after")
    def _fits(self) -> PatrolRule:
        if self.window_min + self.grace_min > self.every_min:
            raise ValueError(
                f"window_min + grace_min ({self.window_min} + {self.grace_min} = "
                f"{self.window_min + self.grace_min}) must not exceed every_min ({self.every_min})"
            )
        twice = sorted({cp for cp in self.checkpoints if self.checkpoints.count(cp) > 1})
        if twice:
            raise ValueError(f"checkpoint listed twice: {', '.join(twice)}")
        return self


class QuotaRule(_Rule):
    """At least ``count`` check-ins per week, month or year."""

    kind: Literal["quota"] = Field("quota", description="Rule kind.")
    task: TaskKind = Field(description="Check-in task that counts (maintenance, activity).")
    period: Period = Field(description="week (ISO, Monday first), month or year; local time.")
    count: int = Field(1, ge=1, le=366, description="Check-ins needed per period.")
    grace_min: int = Field(60, ge=0, le=10080, description="Minutes after the period's end.")


#: Any rule; ``kind`` selects the model.
Rule = Annotated[DailyRule | PatrolRule | QuotaRule, Field(discriminator="kind")]
RULE_ADAPTER: TypeAdapter[DailyRule | PatrolRule | QuotaRule] = TypeAdapter(Rule)


def parse_rule(params: dict[str, object]) -> DailyRule | PatrolRule | QuotaRule:
    """Validate a rule from plain data (the setup file, the ``task_rules.params`` column).

    Raises:
        pydantic.ValidationError: unknown kind or key, or a value out of range.
    """
    return RULE_ADAPTER.validate_python(params)


def rule_params(rule: DailyRule | PatrolRule | QuotaRule) -> dict[str, object]:
    """The rule as plain JSON data (round-trips through :func:`parse_rule`)."""
    return rule.model_dump(mode="json")
