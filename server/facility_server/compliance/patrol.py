"""Patrol rules: rounds while the space is open, each visiting every checkpoint (pure).

On local day D, for every opening interval [open, close): rounds start at
``open + offset_min + k * every_min`` while before ``close``. A round at S must visit
every listed checkpoint in [S, S + window_min) to be on time; a visit counts for it until
the next round starts (at most ``every_min`` later), so each visit belongs to one round.
At S + window + grace a round still missing checkpoints is ``missed`` and names them; if
they are visited before the next round it becomes ``late``. A round may cross midnight
(it belongs to the day it started). An opening interval not longer than ``offset_min``
has no round (the setup import refuses such weekly hours; a short exception day may
have none). On a closed day one ``excused`` occurrence (key = the date, window the whole
local day) stands for the day. Source: 4+5+X standard, 儿童憩戏 "安排专人安全巡查".
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from facility_server.compliance.calendar import local_ms, wall_label
from facility_server.compliance.rules import PatrolRule
from facility_server.compliance.views import (
    ID,
    RECEIVED,
    TS,
    CheckInView,
    Occurrence,
    SpaceContext,
    Window,
    decide,
    first_per_checkpoint,
)
from facility_server.opening import Interval

DAY_MIN = 1440


def round_starts(rule: PatrolRule, intervals: tuple[Interval, ...]) -> list[int]:
    """Round starts of one day, minutes since local midnight."""
    out: list[int] = []
    for open_, close in intervals:
        at = open_ + rule.offset_min
        while at < close:
            out.append(at)
            at += rule.every_min
    return out


def evaluate_patrol(
    rule: PatrolRule, ctx: SpaceContext, day: date, now_ms: int
) -> list[Occurrence]:
    """Every round of ``rule`` on local ``day`` at ``now_ms`` (UTC ms), in time order."""
    intervals, closed = ctx.day(day)
    tz = ctx.schedule.tz
    if closed:  # the whole local day is excused
        at, nxt = local_ms(tz, day, 0), local_ms(tz, day, DAY_MIN)
        window = Window(day.isoformat(), day, at, nxt, nxt, nxt)
        return [Occurrence(window, "excused", reason=closed)]
    tomorrow = ctx.day(day + timedelta(days=1))[0]
    wanted = frozenset(rule.checkpoints)
    items, times = ctx.of_task(rule.task)
    out, lo = [], 0
    for w in round_windows(rule, tz, day, intervals, tomorrow):
        # the windows are in time order and disjoint: each search starts where the last ended
        lo = bisect_left(times, w.start_ms, lo)
        hi = bisect_left(times, w.until_ms, lo)
        out.append(_round(rule, first_per_checkpoint(items[lo:hi], wanted), ctx, w, now_ms))
        lo = hi
    return out


@lru_cache(maxsize=8192)
def round_windows(
    rule: PatrolRule,
    tz: ZoneInfo,
    day: date,
    intervals: tuple[Interval, ...],
    tomorrow: tuple[Interval, ...],
) -> tuple[Window, ...]:
    """The windows of the rounds of local ``day`` given its and the next day's opening
    intervals (cached: every complex with the same hours and rule shares them). A round
    counts visits until the next round starts, at most ``every_min`` later."""
    starts = round_starts(rule, intervals)
    if not starts:  # every interval shorter than offset_min (a short exception day)
        return ()
    after = round_starts(rule, tomorrow)
    nexts = [*starts[1:], (after[0] + DAY_MIN) if after else None]
    out = []
    for start, nxt in zip(starts, nexts, strict=True):
        start_ms = local_ms(tz, day, start)
        deadline_ms = start_ms + rule.window_min * 60_000
        until_ms = start_ms + rule.every_min * 60_000
        if nxt is not None:
            until_ms = min(until_ms, local_ms(tz, day, nxt))
        alert_ms = deadline_ms + rule.grace_min * 60_000
        out.append(Window(wall_label(day, start), day, start_ms, deadline_ms, alert_ms, until_ms))
    return tuple(out)


def _round(
    rule: PatrolRule,
    found: dict[str, CheckInView],
    ctx: SpaceContext,
    window: Window,
    now_ms: int,
) -> Occurrence:
    """One round from the first visit of each checkpoint in its window: its state."""
    needed = len(rule.checkpoints)
    if len(found) == needed:  # complete: on time or late, by its last first visit
        visits = tuple(found.values())  # in (time, id) order, as ``between`` returns them
        done_ms = visits[-1][TS]
        return Occurrence(
            window,
            "on_time" if done_ms < window.deadline_ms else "late",
            tuple([c[ID] for c in visits]),
            done_ms,
            max([c[RECEIVED] for c in visits]),
            needed,
            needed,
        )
    missing = tuple([cp for cp in rule.checkpoints if cp not in found])
    state, reason = decide(window, None, now_ms, ctx)
    ids = tuple([c[ID] for c in found.values()])
    return Occurrence(window, state, ids, None, None, len(found), needed, missing, reason)
