"""Reporting periods and local calendar helpers (pure).

A period is a half-open range of local dates ``[first, end)`` of the complex's zone:

- ``2026H1`` / ``2026H2``: half years (the district's half-year check, 4+5+X management
  rules "每半年对设施利用率、居民满意度……进行检查");
- ``2026-06``: a calendar month; ``2026-W23``: an ISO week (Monday first);
- ``2026``: a calendar year; ``2026-06-02``: one day.

Instants are UTC epoch milliseconds (``*_ms``); a local day starts at local midnight.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from facility_server.compliance.calendar import local_ms

Grain = Literal["hour", "day", "week", "month", "half", "year"]
GRAINS: tuple[Grain, ...] = ("hour", "day", "week", "month", "half", "year")

_HALF = re.compile(r"^(\d{4})H([12])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


class PeriodError(ValueError):
    """A period text that is not one of the accepted forms."""


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates ``[first, end)`` named ``key`` (``2026H1`` ...)."""

    key: str
    first: date
    end: date

    @property
    def days(self) -> int:
        """Number of local days in the period."""
        return (self.end - self.first).days

    def dates(self) -> Iterator[date]:
        """Every local date of the period, in order."""
        day = self.first
        while day < self.end:
            yield day
            day += timedelta(days=1)

    def start_ms(self, tz: ZoneInfo) -> int:
        """Local midnight of ``first`` in ``tz``, UTC ms."""
        return local_ms(tz, self.first, 0)

    def end_ms(self, tz: ZoneInfo) -> int:
        """Local midnight of ``end`` in ``tz``, UTC ms (exclusive)."""
        return local_ms(tz, self.end, 0)


def parse_period(text: str) -> Period:
    """``2026H1``, ``2026-06``, ``2026-W23``, ``2026`` or ``2026-06-02`` -> :class:`Period`.

    Raises:
        PeriodError: any other text, or a month, week or day that does not exist.
    """
    text = text.strip()
    try:
        if m := _HALF.match(text):
            year, half = int(m.group(1)), int(m.group(2))
            first = date(year, 1 if half == 1 else 7, 1)
            end = date(year, 7, 1) if half == 1 else date(year + 1, 1, 1)
            return Period(text, first, end)
        if m := _MONTH.match(text):
            first = date(int(m.group(1)), int(m.group(2)), 1)
            return Period(text, first, next_month(first))
        if m := _WEEK.match(text):
            first = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
            return Period(text, first, first + timedelta(days=7))
        if m := _YEAR.match(text):
            year = int(m.group(1))
            return Period(text, date(year, 1, 1), date(year + 1, 1, 1))
        day = date.fromisoformat(text)
        return Period(text, day, day + timedelta(days=1))
    except (ValueError, OverflowError) as exc:  # OverflowError: a period ending after 9999
        raise PeriodError(f"not a valid period: {text!r} ({exc})") from exc


#: The forms of a period the API and the report command take (a day is for internal use).
PERIOD_FORMS = "2026H1, 2026H2, 2026-06 (month), 2026-W23 (ISO week) or 2026"
#: The years a scorecard or report period may fall in (inclusive).
PERIOD_YEARS = (2000, 2099)


def parse_report_period(text: str) -> Period:
    """:func:`parse_period` of a scorecard or report period, of a year in
    :data:`PERIOD_YEARS` (the API's ``period`` and the report command's ``--period``).

    Raises:
        PeriodError: ``'2026H3' is not a period; use ...`` or ``'1999H1' is outside the
            years 2000..2099`` (the value quoted, the field left to the caller).
    """
    try:
        p = parse_period(text)
    except PeriodError as exc:
        raise PeriodError(f"{text!r} is not a period; use {PERIOD_FORMS}") from exc
    lo, hi = PERIOD_YEARS
    if not lo <= p.first.year <= hi:
        raise PeriodError(f"{text!r} is outside the years {lo}..{hi}")
    return p


def next_month(first: date) -> date:
    """The first day of the month after the one containing ``first``."""
    return (first.replace(day=1) + timedelta(days=32)).replace(day=1)


def unit_start(day: date, unit: str) -> date:
    """First local day of the ``week`` (Monday), ``month`` or ``year`` containing ``day``."""
    if unit == "week":
        return week_start(day)
    if unit == "month":
        return day.replace(day=1)
    return date(day.year, 1, 1)


def unit_after(first: date, unit: str) -> date:
    """First day of the ``week``, ``month`` or ``year`` after the one starting on ``first``."""
    if unit == "week":
        return first + timedelta(days=7)
    if unit == "month":
        return next_month(first)
    return date(first.year + 1, 1, 1)


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def bucket_key(day: date, grain: Grain) -> tuple[str, date]:
    """The key and first day of the ``grain`` period containing local ``day``.

    ``day`` -> ``2026-06-02``; ``week`` -> ``2026-W23``; ``month`` -> ``2026-06``;
    ``half`` -> ``2026H1``; ``year`` -> ``2026``.

    Raises:
        ValueError: for the ``hour`` grain (hours are not keyed by a date).
    """
    if grain == "day":
        return day.isoformat(), day
    if grain == "week":
        first = week_start(day)
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}", first
    if grain == "month":
        return f"{day.year}-{day.month:02d}", day.replace(day=1)
    if grain == "half":
        half = 1 if day.month <= 6 else 2
        return f"{day.year}H{half}", date(day.year, 1 if half == 1 else 7, 1)
    if grain == "year":
        return str(day.year), date(day.year, 1, 1)
    raise ValueError(f"grain {grain!r} has no date key")


def weeks_in(period: Period) -> list[date]:
    """Mondays of the ISO weeks lying wholly inside ``period``."""
    monday = week_start(period.first)
    if monday < period.first:
        monday += timedelta(days=7)
    out = []
    while monday + timedelta(days=7) <= period.end:
        out.append(monday)
        monday += timedelta(days=7)
    return out


def months_in(period: Period) -> list[date]:
    """First days of the calendar months lying wholly inside ``period``."""
    first = period.first if period.first.day == 1 else next_month(period.first)
    out = []
    while next_month(first) <= period.end:
        out.append(first)
        first = next_month(first)
    return out
