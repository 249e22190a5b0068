"""Daily rules: one check-in on every open day, inside a window (pure).

For local day D the window starts at D + ``start``. The deadline is D + ``deadline``
(moved to the next day when it is not after ``start``: the window crosses midnight), or
the day's first opening minus ``before_opening_min`` (then a ``start`` that is not before
it moves to the previous day). A check-in counts from the start until
``min(deadline + late_min, next day's start)``, so no check-in can count for two days;
grace only delays the "missed" alert (time for late data to arrive). Closed days are
``excused``, their window the whole local day (midnight to midnight).
Source: 4+5+X standard, 儿童憩戏 "每日消毒清洁设施".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

from facility_server.compliance.calendar import local_ms
from facility_server.compliance.rules import DailyRule
from facility_server.compliance.views import (
    CHECKPOINT,
    ID,
    RECEIVED,
    TS,
    CheckInView,
    Occurrence,
    SpaceContext,
    Window,
    decide,
)
from facility_server.opening import Interval, parse_hhmm

DAY_MIN = 1440


def daily_window(rule: DailyRule, ctx: SpaceContext, day: date) -> tuple[Window, str]:
    """The window of ``day`` and "" when the space is open, else a zero window and the
    reason it is closed."""
    intervals, closed = ctx.day(day)
    return _window(rule, ctx.schedule.tz, day, intervals, closed)


@lru_cache(maxsize=8192)
def _window(
    rule: DailyRule, tz: ZoneInfo, day: date, intervals: tuple[Interval, ...], closed: str
) -> tuple[Window, str]:
    """:func:`daily_window` from the day's opening (cached: every complex with the same
    hours and rule shares it)."""
    start = parse_hhmm(rule.start)
    key = day.isoformat()
    if closed:  # the whole local day is excused
        midnight, nxt = local_ms(tz, day, 0), local_ms(tz, day, DAY_MIN)
        return Window(key, day, midnight, nxt, nxt, nxt), closed
    if rule.deadline == "opening":
        deadline = intervals[0][0] - rule.before_opening_min
        if start >= deadline:
            start -= DAY_MIN
    else:
        deadline = parse_hhmm(rule.deadline)
        if deadline <= start:
            deadline += DAY_MIN
    start_ms, deadline_ms = local_ms(tz, day, start), local_ms(tz, day, deadline)
    alert_ms = deadline_ms + rule.grace_min * 60_000
    next_start = local_ms(tz, day, parse_hhmm(rule.start) + DAY_MIN)
    until_ms = min(deadline_ms + rule.late_min * 60_000, next_start)
    return Window(key, day, start_ms, deadline_ms, alert_ms, until_ms), ""


def evaluate_daily(rule: DailyRule, ctx: SpaceContext, day: date, now_ms: int) -> Occurrence:
    """The occurrence of ``rule`` on local ``day`` at ``now_ms`` (UTC ms)."""
    window, closed = daily_window(rule, ctx, day)
    if closed:
        return Occurrence(window, "excused", reason=closed)
    done = _first(rule, ctx.between(rule.task, window.start_ms, window.until_ms))
    state, reason = decide(window, None if done is None else done[TS], now_ms, ctx)
    if done is None:
        return Occurrence(window, state, reason=reason)
    return Occurrence(window, state, (done[ID],), done[TS], done[RECEIVED], 1)


def _first(rule: DailyRule, checkins: Sequence[CheckInView]) -> CheckInView | None:
    if not rule.checkpoints:
        return checkins[0] if checkins else None
    allowed = set(rule.checkpoints)
    return next((c for c in checkins if c[CHECKPOINT] in allowed), None)
