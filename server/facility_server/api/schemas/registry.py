"""Regions, complexes, spaces and calendar exceptions."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from facility_server.api.common import MAX_ID
from facility_server.api.schemas.base import In, Out
from facility_server.domain import (
    Code,
    Day,
    DayHours,
    HolidayPolicy,
    Name,
    RegionKind,
    ShortText,
    SpaceType,
    TimeZone,
    WeeklyHours,
)

#: Ids and numbers in requests are strict: "12" or 12.0 is a 422, not 12.
RefId = Field(ge=1, le=MAX_ID, strict=True)


class RegionBase(In):
    """A district, street or community."""

    name: Name = Field(description="Display name, e.g. 西湖区.")


class RegionCreate(RegionBase):
    """Create a region under ``parent_id`` (none for a district)."""

    kind: RegionKind
    code: Code
    parent_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True)


class RegionUpdate(In):
    """Rename a region."""

    name: Name | None = None


class RegionPublic(Out):
    """A region as returned."""

    id: int
    kind: str
    code: str
    name: str
    parent_id: int | None
    path: str


class ComplexBase(In):
    """Fields of a complex that can change."""

    name: Name
    address: ShortText = ""
    timezone: TimeZone = "Asia/Shanghai"
    public_holidays: HolidayPolicy = HolidayPolicy.closed
    makeup_workdays: str = Field("regular", pattern=r"^(regular|mon|tue|wed|thu|fri|sat|sun)$")


class ComplexCreate(ComplexBase):
    """Create a complex in a community."""

    site_id: Code
    community_id: int = RefId


class ComplexUpdate(In):
    """Change a complex (fields left out stay)."""

    name: Name | None = None
    address: ShortText | None = None
    timezone: TimeZone | None = None
    public_holidays: HolidayPolicy | None = None
    makeup_workdays: str | None = Field(None, pattern=r"^(regular|mon|tue|wed|thu|fri|sat|sun)$")


class ComplexPublic(Out):
    """A complex as returned."""

    id: int
    site_id: str
    name: str
    address: str
    timezone: str
    community_id: int
    street_id: int
    district_id: int
    public_holidays: str
    makeup_workdays: str


class SpaceBase(In):
    """Fields of a space."""

    name: Name
    type: SpaceType
    capacity: int = Field(ge=1, le=100_000, strict=True, description="People.")
    weekly_hours: WeeklyHours = Field(default_factory=dict, description='{"mon": ["09:00-17:30"]}')


class SpaceCreate(SpaceBase):
    """Create a space in a complex."""

    complex_id: int = RefId
    code: Code


class SpaceUpdate(In):
    """Change a space."""

    name: Name | None = None
    type: SpaceType | None = None
    capacity: int | None = Field(None, ge=1, le=100_000, strict=True)
    weekly_hours: WeeklyHours | None = None


class SpacePublic(Out):
    """A space as returned."""

    id: int
    complex_id: int
    code: str
    name: str
    type: str
    capacity: int
    weekly_hours: dict[str, list[str]]


class ExceptionCreate(In):
    """A dated exception of a complex (``space_id`` none) or one space."""

    complex_id: int = RefId
    space_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True)
    day: Day
    hours: DayHours = Field(default_factory=list, description="Special hours; empty = closed.")
    note: ShortText = ""


class ExceptionPublic(Out):
    """A calendar exception as returned."""

    id: int
    complex_id: int
    space_id: int | None
    day: date
    closed: bool
    hours: list[str]
    note: str


class OpeningPublic(Out):
    """A space's opening on one local date."""

    space_id: int
    date: date
    timezone: str
    intervals: list[tuple[datetime, datetime]]
    #: ``available`` or ``not available for 2027`` (that year's public holidays unknown,
    #: not applied; see docs/server.md "Public holidays").
    holiday_calendar: str = "available"


class TodaySpace(Out):
    """One space in a complex's "today" view."""

    id: int
    code: str
    name: str
    type: str
    capacity: int
    intervals: list[tuple[datetime, datetime]]
    open_now: bool


class TodayPublic(Out):
    """A complex today: spaces with their hours, device health counts, open alerts."""

    complex: ComplexPublic
    local_date: date
    now: datetime
    spaces: list[TodaySpace]
    devices: dict[str, int]
    open_alerts: int
