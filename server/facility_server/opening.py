"""Opening hours: is a space open at an instant, and its opening intervals on a local date.

Pure functions over a :class:`Schedule` (weekly hours + dated exceptions + the complex's
holiday policy + its time zone). Precedence on a local date, first match wins:

1. the space's own dated exception (closed, or special hours);
2. the complex's dated exception (applies to all its spaces);
3. China's calendar (``chinese-calendar``): a statutory public holiday closes the space
   when the policy ``public_holidays`` is ``closed``; a make-up working day (调休上班, a
   weekend day worked) follows the weekly hours of the weekday named by ``makeup_workdays``
   (``regular`` = its own weekday). A year the library does not cover yet (the State
   Council publishes each year's notice in November/December) has no holidays: a WARNING
   is logged once per year (:func:`china_day_kind`);
4. the weekly hours of that weekday.

Times are local wall-clock times of the complex (``HH:MM-HH:MM``, ``24:00`` allowed as a close);
an interval never crosses midnight. Source: the 4+5+X standard asks each service to
publish its hours; culture >= 28 h/week and health >= 5 days/week are checked on these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar

_log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DayKind = Literal["normal", "holiday", "makeup_workday"]

#: A local opening interval as minutes since local midnight, [start, end), 0 <= start < end <= 1440.
Interval = tuple[int, int]


def parse_hhmm(text: str) -> int:
    """``"09:30"`` -> 570 (minutes since midnight); ``"24:00"`` -> 1440.

    Raises:
        ValueError: when ``text`` is not ``HH:MM`` with 00 <= HH <= 23 (or exactly 24:00).
    """
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
        raise ValueError(f"time must be HH:MM, got {text!r}")
    hh, mm = int(text[:2]), int(text[3:])
    if (hh, mm) == (24, 0):
        return 1440
    if hh > 23 or mm > 59:
        raise ValueError(f"time out of range: {text!r}")
    return hh * 60 + mm


def format_hhmm(minutes: int) -> str:
    """570 -> ``"09:30"``; 1440 -> ``"24:00"``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_interval(text: str) -> Interval:
    """``"09:00-17:30"`` -> (540, 1050).

    Raises:
        ValueError: malformed, empty or reversed interval.
    """
    parts = text.split("-") if isinstance(text, str) else []
    if len(parts) != 2:
        raise ValueError(f"an interval is HH:MM-HH:MM, got {text!r}")
    start, end = parse_hhmm(parts[0].strip()), parse_hhmm(parts[1].strip())
    if start >= end:
        raise ValueError(f"interval closes before it opens: {text!r}")
    return start, end


def format_interval(interval: Interval) -> str:
    """(540, 1050) -> ``"09:00-17:30"``."""
    return f"{format_hhmm(interval[0])}-{format_hhmm(interval[1])}"


def parse_intervals(texts: Sequence[str]) -> tuple[Interval, ...]:
    """``["09:00-12:00", "13:00-17:30"]`` -> sorted, non-overlapping intervals.

    Raises:
        ValueError: an interval that is empty, reversed, malformed or overlaps another.
    """
    out = [parse_interval(t) for t in texts]
    out.sort()
    for (_, end), (start, _) in pairwise(out):
        if start < end:
            raise ValueError("opening intervals overlap")
    return tuple(out)


def parse_weekly(hours: Mapping[str, Sequence[str]]) -> dict[int, tuple[Interval, ...]]:
    """``{"mon": ["09:00-17:00"], ...}`` -> {0: ((540, 1020),), ...}; missing days closed.

    Raises:
        ValueError: an unknown day name or a bad interval.
    """
    weekly: dict[int, tuple[Interval, ...]] = {}
    for day, pairs in hours.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r}; use one of {', '.join(WEEKDAYS)}")
        weekly[WEEKDAYS.index(day)] = parse_intervals(pairs)
    return weekly


#: Years ``chinese-calendar`` has the State Council's holiday notice for (inclusive).
HOLIDAY_YEARS: tuple[int, int] = (
    min(chinese_calendar.holidays).year,
    max(chinese_calendar.holidays).year,
)
_warned: set[int] = set()


def holiday_calendar_covers(day: date) -> bool:
    """True when China's holiday calendar is known for ``day``'s year (see HOLIDAY_YEARS)."""
    return HOLIDAY_YEARS[0] <= day.year <= HOLIDAY_YEARS[1]


def holiday_calendar_status(day: date) -> str:
    """``"available"``, or ``"not available for 2027"`` (days of that year are treated as
    normal days: add the holidays as calendar exceptions until ``chinese-calendar`` is
    upgraded)."""
    return "available" if holiday_calendar_covers(day) else f"not available for {day.year}"


def china_day_kind(day: date) -> DayKind:
    """Classify ``day`` by China's State Council holiday calendar (``chinese-calendar``).

    A day of a year the library does not cover counts as ``normal`` and logs a WARNING
    once per year and process (``facility_server.opening``): public holidays of that year
    are then NOT applied; see :func:`holiday_calendar_status` and docs/server.md.
    """
    if not holiday_calendar_covers(day):
        if day.year not in _warned:
            _warned.add(day.year)
            _log.warning(
                "holiday calendar not available for %d (chinese-calendar covers %d-%d):"
                " public holidays of %d are treated as normal days",
                day.year,
                *HOLIDAY_YEARS,
                day.year,
            )
        return "normal"
    if day in chinese_calendar.holidays:
        return "holiday"
    if day in chinese_calendar.workdays:
        return "makeup_workday"
    return "normal"


@dataclass(frozen=True)
class Schedule:
    """Everything that decides when one space is open.

    Attributes:
        tz: the complex's time zone (default Asia/Shanghai).
        weekly: weekday (0 = Monday) -> local intervals.
        space_exceptions: local date -> intervals (empty tuple = closed), the space's own.
        complex_exceptions: the same, for the whole complex.
        public_holidays: ``closed`` or ``regular`` (ignore statutory holidays).
        makeup_workdays: ``regular`` or a weekday name whose hours a make-up day takes.
        day_kind: the holiday calendar, injectable for tests.
    """

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    weekly: Mapping[int, tuple[Interval, ...]] = field(default_factory=dict)
    space_exceptions: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)
    complex_exceptions: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)
    public_holidays: Literal["closed", "regular"] = "closed"
    makeup_workdays: str = "regular"
    day_kind: Callable[[date], DayKind] = china_day_kind


def local_intervals(schedule: Schedule, day: date) -> tuple[Interval, ...]:
    """Opening intervals of ``day`` (local date) as minutes since local midnight."""
    if day in schedule.space_exceptions:
        return schedule.space_exceptions[day]
    if day in schedule.complex_exceptions:
        return schedule.complex_exceptions[day]
    kind = schedule.day_kind(day)
    if kind == "holiday" and schedule.public_holidays == "closed":
        return ()
    weekday = day.weekday()
    if kind == "makeup_workday" and schedule.makeup_workdays in WEEKDAYS:
        weekday = WEEKDAYS.index(schedule.makeup_workdays)
    return tuple(schedule.weekly.get(weekday, ()))


def opening_intervals(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """Opening intervals of local date ``day`` as tz-aware datetimes in ``schedule.tz``.

    ``24:00`` becomes midnight of the next day. Wall-clock times that a DST change skips
    or repeats resolve by ``zoneinfo``'s fold=0 rule (Asia/Shanghai has no DST).
    """
    out = []
    midnight = datetime.combine(day, time(0), tzinfo=schedule.tz)
    for start, end in local_intervals(schedule, day):
        out.append((_at(midnight, start), _at(midnight, end)))
    return out


def _at(midnight: datetime, minutes: int) -> datetime:
    wall = midnight.replace(tzinfo=None) + timedelta(minutes=minutes)
    return wall.replace(tzinfo=midnight.tzinfo)


def is_open(schedule: Schedule, at: datetime) -> bool:
    """True when the space is open at instant ``at``.

    Raises:
        ValueError: when ``at`` is naive (an instant needs a time zone).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("is_open needs a tz-aware datetime")
    local = at.astimezone(schedule.tz)
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    return any(start <= minute < end for start, end in local_intervals(schedule, local.date()))


def weekly_open_hours(weekly: Mapping[int, tuple[Interval, ...]]) -> float:
    """Hours per week of a regular week (no exceptions), e.g. culture must be >= 28 h."""
    return sum(end - start for ivs in weekly.values() for start, end in ivs) / 60


def weekly_open_days(weekly: Mapping[int, tuple[Interval, ...]]) -> int:
    """Days per week with any opening, e.g. the health station must be >= 5."""
    return sum(1 for ivs in weekly.values() if ivs)
