"""Local days, periods and instants for the engine (pure).

Instants are integers: UTC epoch milliseconds. Days and wall-clock minutes are local to
the complex (``zoneinfo``; Asia/Shanghai has no daylight saving, other zones resolve a
skipped or repeated wall time by ``fold=0``). Whether a space is open on a day, and why
not, follows :mod:`facility_server.opening` (space exception, complex exception, China's
holiday calendar where a make-up working day is a working day, weekly hours).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from facility_server.opening import Interval, Schedule, local_intervals

ClosedReason = Literal["", "space_exception", "complex_exception", "public_holiday", "closed_day"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=8192)
def _midnight(tz: ZoneInfo, day: date) -> tuple[int, bool]:
    """Local midnight of ``day`` in UTC ms, and whether the day has one UTC offset."""
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return int(start.timestamp() * 1000), start.utcoffset() == end.utcoffset()


def local_ms(tz: ZoneInfo, day: date, minutes: int) -> int:
    """UTC epoch ms of the local wall time ``minutes`` after local midnight of ``day``.

    ``minutes`` may be negative or exceed 1440 (a time on another day, for windows
    crossing midnight). Days without a UTC-offset change take a cached fast path.
    """
    shift, rest = divmod(minutes, 1440)
    if shift:
        day += timedelta(days=shift)
    midnight, uniform = _midnight(tz, day)
    if uniform:
        return midnight + rest * 60_000
    wall = datetime.combine(day, time()) + timedelta(minutes=rest)
    return int(wall.replace(tzinfo=tz).timestamp() * 1000)


def local_day(tz: ZoneInfo, ms: int) -> date:
    """The local date, in ``tz``, of the instant ``ms`` (UTC epoch ms)."""
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(tz).date()


def to_datetime(ms: int) -> datetime:
    """UTC epoch ms -> a tz-aware UTC datetime."""
    return _EPOCH + timedelta(milliseconds=ms)


def to_ms(at: datetime) -> int:
    """A tz-aware datetime -> UTC epoch ms.

    Raises:
        ValueError: when ``at`` is naive.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("an instant needs a time zone")
    return (at - _EPOCH) // timedelta(milliseconds=1)


def wall_label(day: date, minutes: int) -> str:
    """``2026-06-02T09:00``: local date and wall time (minutes since midnight, < 1440)."""
    return f"{day.isoformat()}T{minutes // 60:02d}:{minutes % 60:02d}"


def day_status(schedule: Schedule, day: date) -> tuple[tuple[Interval, ...], ClosedReason]:
    """Opening intervals of ``day`` and, when there are none, why the space is closed.

    Precedence as in :func:`facility_server.opening.local_intervals`.
    """
    intervals = local_intervals(schedule, day)
    if intervals:
        return intervals, ""
    if day in schedule.space_exceptions:
        return (), "space_exception"
    if day in schedule.complex_exceptions:
        return (), "complex_exception"
    if schedule.public_holidays == "closed" and schedule.day_kind(day) == "holiday":
        return (), "public_holiday"
    return (), "closed_day"


def period_of(period: Literal["week", "month", "year"], day: date) -> tuple[date, date, str]:
    """The period containing ``day``: (first day, first day of the next period, key).

    Keys: ``2026-W23`` (ISO week, Monday first), ``2026-06``, ``2026``.
    """
    if period == "week":
        first = day - timedelta(days=day.weekday())
        year, week, _ = first.isocalendar()
        return first, first + timedelta(days=7), f"{year}-W{week:02d}"
    if period == "month":
        first = day.replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        return first, nxt, f"{first.year}-{first.month:02d}"
    first = day.replace(month=1, day=1)
    return first, first.replace(year=first.year + 1), f"{first.year}"


def previous_period(period: Literal["week", "month", "year"], day: date) -> date:
    """A day inside the period before the one containing ``day``."""
    first, _, _ = period_of(period, day)
    return first - timedelta(days=1)
