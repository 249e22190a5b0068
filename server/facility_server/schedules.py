"""Build :class:`~facility_server.opening.Schedule` objects from the registry's rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from facility_server.models import CalendarException, Complex, Space
from facility_server.opening import Interval, Schedule, parse_intervals, parse_weekly


def schedule_for(
    cx: Complex, space: Space, exceptions: Iterable[CalendarException] = ()
) -> Schedule:
    """The schedule of ``space`` in ``cx`` given the complex's calendar exceptions.

    ``exceptions`` may hold the whole complex's rows; those of other spaces are ignored.
    """
    own: dict[date, tuple[Interval, ...]] = {}
    shared: dict[date, tuple[Interval, ...]] = {}
    for exc in exceptions:
        hours = () if exc.closed else parse_intervals(exc.hours)
        if exc.space_id is None:
            shared[exc.day] = hours
        elif exc.space_id == space.id:
            own[exc.day] = hours
    return Schedule(
        tz=ZoneInfo(cx.timezone),
        weekly=parse_weekly(space.weekly_hours),
        space_exceptions=own,
        complex_exceptions=shared,
        public_holidays="regular" if cx.public_holidays == "regular" else "closed",
        makeup_workdays=cx.makeup_workdays,
    )
