"""Quota rules: at least ``count`` check-ins per week, month or year (pure).

The period runs from local midnight of its first day to local midnight of the next
period's first day; it is the deadline, and "missed" is alerted ``grace_min`` after it.
Only check-ins inside the period count (there is no "late": a lecture in July does not
make up for June). A period in which the space is never open is ``excused``.
Sources: 养老服务 "每月至少组织1次健康讲座或义诊"; 体育健身 "定期维护器材",
"每年举办不少于4次社区运动会或培训"; 就业帮扶 "每年至少开展2场技能提升或促就业相关活动".
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from facility_server.compliance.calendar import local_ms, period_of
from facility_server.compliance.rules import Period, QuotaRule
from facility_server.compliance.views import (
    CHECKPOINT,
    ID,
    RECEIVED,
    TS,
    Occurrence,
    SpaceContext,
    Window,
    decide,
)


@lru_cache(maxsize=8192)
def period_window(
    period: Period, grace_min: int, tz: ZoneInfo, day: date
) -> tuple[Window, date, date]:
    """The window of the period containing local ``day``, its first day and the next
    period's first day (cached: every complex in the zone shares them)."""
    first, nxt, key = period_of(period, day)
    start_ms, end_ms = local_ms(tz, first, 0), local_ms(tz, nxt, 0)
    alert_ms = end_ms + grace_min * 60_000
    return Window(key, nxt - timedelta(days=1), start_ms, end_ms, alert_ms, end_ms), first, nxt


def evaluate_quota(rule: QuotaRule, ctx: SpaceContext, day: date, now_ms: int) -> Occurrence:
    """The occurrence of the period containing local ``day``, at ``now_ms`` (UTC ms); its
    ``window.day`` is the period's last day (the day it is due by, for daily reports)."""
    window, first, nxt = period_window(rule.period, rule.grace_min, ctx.schedule.tz, day)
    start_ms, end_ms = window.start_ms, window.deadline_ms
    closed = _closed_all_period(ctx, first, nxt)
    if closed:
        return Occurrence(window, "excused", needed_count=rule.count, reason=closed)
    matching = ctx.between(rule.task, start_ms, end_ms)
    if rule.checkpoints:
        allowed = set(rule.checkpoints)
        matching = [c for c in matching if c[CHECKPOINT] in allowed]
    counted = matching[: rule.count]
    done_ms = counted[-1][TS] if len(counted) == rule.count else None

    state, reason = decide(window, done_ms, now_ms, ctx)
    return Occurrence(
        window,
        state,
        tuple([c[ID] for c in counted]),
        done_ms,
        max([c[RECEIVED] for c in counted]) if done_ms is not None else None,
        len(matching),
        rule.count,
        (),
        reason,
    )


def _closed_all_period(ctx: SpaceContext, first: date, nxt: date) -> str:
    """Empty when the space opens on some day of [first, nxt), else ``closed_all_period``."""
    day = first
    while day < nxt:
        if ctx.day(day)[0]:
            return ""
        day += timedelta(days=1)
    return "closed_all_period"
