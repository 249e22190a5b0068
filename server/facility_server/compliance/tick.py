"""Apply the engine to the database: on a timer (:func:`compliance_tick`) and whenever a
check-in arrives (:func:`on_checkin`).

Both evaluate rules with the pure engine at an injected ``now``, store the occurrences
that changed (:mod:`facility_server.compliance.store`), open task alerts for new misses
and resolve those that were done after all (:mod:`facility_server.compliance.alerting`).
Safe to run in several server processes at once; the caller commits.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.compliance import alerting, calendar, daily, load, patrol, quota
from facility_server.compliance.calendar import local_day, to_datetime, to_ms
from facility_server.compliance.engine import CARRY_MIN, evaluate, horizon
from facility_server.compliance.load import (
    RuleInfo,
    SpaceInfo,
    load_contexts,
    load_rules,
    since_for,
)
from facility_server.compliance.rules import QuotaRule
from facility_server.compliance.store import Memo, write
from facility_server.compliance.views import SETTLE_MS, Occurrence, SpaceContext
from facility_server.models import TaskOccurrence

logger = logging.getLogger(__name__)
#: How far back the tick still settles occurrences left ``due`` or ``unknown``, days.
LOOKBACK_DAYS = 14


@dataclass
class TickReport:
    """What one evaluation did: occurrences evaluated and written, states of those
    written, alert dedupe keys opened and resolved."""

    evaluated: int = 0
    written: int = 0
    states: Counter[str] = field(default_factory=Counter)
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


def clear_caches() -> None:
    """Empty every cache the engine fills (parsed rules and hours, windows, periods, local
    midnights, alert times): what a new process starts with; for benchmarks and tests."""
    load.clear_caches()
    caches = (calendar._midnight, daily._window, patrol.round_windows, quota.period_window)
    for cached in (*caches, alerting.local_text):
        cached.cache_clear()  # package-internal caches


def compliance_tick(
    session: Session,
    now: datetime,
    *,
    settle_ms: int = SETTLE_MS,
    carry_min: int = CARRY_MIN,
    memo: Memo | None = None,
) -> TickReport:
    """Evaluate every enabled rule of every complex at ``now`` (tz-aware); pass the same
    ``memo`` to every tick of a process to skip re-storing unchanged results.

    Days: today (local to each complex), yesterday during the first ``carry_min``
    minutes of the day, a quota's previous period during its grace, and any day of the
    last two weeks with an occurrence still ``due`` or ``unknown``.

    Raises:
        ValueError: when ``now`` is naive.
    """
    now_ms = to_ms(now)
    with _gc_paused():
        return _tick(session, now, now_ms, settle_ms, carry_min, memo)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a tick allocates hundreds of thousands of small
    tuples, none of them cyclic, and collections triggered by them would scan all of them
    again and again (it roughly halved the benchmark's tick)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _tick(
    session: Session,
    now: datetime,
    now_ms: int,
    settle_ms: int,
    carry_min: int,
    memo: Memo | None,
) -> TickReport:
    rules, spaces, weekly = load_rules(session)
    stale = _unsettled_days(session, now_ms, spaces)
    days: dict[int, list[date]] = {}
    plans: dict[tuple[str, ZoneInfo], list[date]] = {}  # same rule, same zone: same days
    for info in rules:
        tz = spaces[info.space_id].tz
        plan = plans.get((info.version, tz))
        if plan is None:
            local = to_datetime(now_ms).astimezone(tz)
            minute = local.hour * 60 + local.minute
            plan = plans[(info.version, tz)] = horizon(info.rule, local.date(), minute, carry_min)
        extra = stale.get(info.id)
        days[info.id] = sorted(set(plan) | extra) if extra else plan
    report = _run(session, rules, spaces, weekly, lambda r: days[r.id], now, settle_ms, memo)
    report.resolved += [a.dedupe_key for a in alerting.reconcile(session, now)]
    session.flush()
    return report


def on_checkin(
    session: Session, space_id: int, ts_ms: int, now: datetime, *, settle_ms: int = SETTLE_MS
) -> TickReport:
    """Re-evaluate the rules of one space for the days a check-in at ``ts_ms`` (UTC ms)
    can count for: its local day and the day before (a window crossing midnight), and
    the quota periods containing them."""
    rules, spaces, weekly = load_rules(session, space_ids=[space_id])
    if not rules:
        return TickReport()
    day = local_day(spaces[space_id].tz, ts_ms)
    span = [day - timedelta(days=1), day]
    return _run(
        session, rules, spaces, weekly, lambda _: span, now, settle_ms, None, whole_city=False
    )


def _run(
    session: Session,
    rules: list[RuleInfo],
    spaces: dict[int, SpaceInfo],
    weekly: dict[int, dict[int, tuple[tuple[int, int], ...]]],
    days_for: Callable[[RuleInfo], list[date]],
    now: datetime,
    settle_ms: int,
    memo: Memo | None,
    whole_city: bool = True,
) -> TickReport:
    now_ms = to_ms(now)
    since = since_for(rules, spaces, days_for)
    contexts = load_contexts(
        session, spaces, weekly, since, now_ms, settle_ms=settle_ms, whole_city=whole_city
    )
    results = (  # lazy, in rule id order: write() stores a batch while the next is evaluated
        (
            info,
            judged(
                info, safe_evaluate(info, contexts[info.space_id], days_for(info), now_ms), now_ms
            ),
        )
        for info in rules
    )
    changes, evaluated = write(
        session, results, now_ms, None if whole_city else [r.id for r in rules], memo
    )
    report = TickReport(evaluated=evaluated, written=len(changes))
    report.states.update(c.occ.state for c in changes)
    report.opened = alerting.open_for(session, changes, spaces, now)
    report.resolved = [a.dedupe_key for a in alerting.resolve_for(session, changes, spaces, now)]
    if report.written:
        logger.debug("compliance: %s", report)
    return report


def _unsettled_days(
    session: Session, now_ms: int, spaces: dict[int, SpaceInfo]
) -> dict[int, set[date]]:
    """rule id -> older local days (up to :data:`LOOKBACK_DAYS` back) with an occurrence
    still ``due`` or ``unknown`` (a terminal back after a long outage settles them)."""
    if not spaces:
        return {}
    earliest = min(local_day(s.tz, now_ms) for s in spaces.values())
    rows = session.execute(
        select(TaskOccurrence.rule_id, TaskOccurrence.day).where(
            TaskOccurrence.state.in_(("due", "unknown")),
            TaskOccurrence.day < earliest,
            TaskOccurrence.day >= earliest - timedelta(days=LOOKBACK_DAYS),
        )
    )
    out: dict[int, set[date]] = defaultdict(set)
    for rule_id, day in rows:
        out[rule_id].add(day)
    return out


def evaluate_today(
    session: Session, space_ids: list[int], now: datetime, *, settle_ms: int = SETTLE_MS
) -> list[tuple[RuleInfo, SpaceInfo, list[Occurrence]]]:
    """Today's occurrences (all states, pending included; for quotas the current period)
    of the rules of some spaces, evaluated live for a board; nothing is written. Also
    yesterday's that still take check-ins (a window crossing midnight, a round after
    22:00). Only check-ins received by ``now`` count (a board at a past instant shows what
    was known then; terminal health is the current one: its history is not kept)."""
    now_ms = to_ms(now)
    rules, spaces, weekly = load_rules(session, space_ids=space_ids)

    def days_for(info: RuleInfo) -> list[date]:
        today = local_day(spaces[info.space_id].tz, now_ms)
        if isinstance(info.rule, QuotaRule):
            return [today]
        return [today - timedelta(days=1), today]

    since = since_for(rules, spaces, days_for)
    contexts = load_contexts(
        session, spaces, weekly, since, now_ms, settle_ms=settle_ms, received_by_ms=now_ms
    )
    out = []
    for info in rules:
        days = days_for(info)
        occs = safe_evaluate(info, contexts[info.space_id], days, now_ms)
        occs = [o for o in occs if o.window.day == days[-1] or o.window.until_ms > now_ms]
        out.append((info, spaces[info.space_id], judged(info, occs, now_ms)))
    return out


def safe_evaluate(
    info: RuleInfo, ctx: SpaceContext, days: list[date], now_ms: int
) -> list[Occurrence]:
    """:func:`evaluate`, but a day the rule cannot be evaluated on (a rule the engine
    cannot apply to that day's hours) is logged with the rule, space and day and left
    out: one bad rule never stops the tick of every complex (a loop boundary)."""
    try:
        return evaluate(info.rule, ctx, days, now_ms)
    except Exception:  # retried day by day: each failing day is logged, the rest kept
        return evaluate(
            info.rule, ctx, [d for d in days if _evaluable(info, ctx, d, now_ms)], now_ms
        )


def _evaluable(info: RuleInfo, ctx: SpaceContext, day: date, now_ms: int) -> bool:
    """Whether ``rule`` can be evaluated on ``day`` (logged with rule, space, day if not)."""
    try:
        evaluate(info.rule, ctx, [day], now_ms)
    except Exception:
        logger.exception(
            "compliance: rule %s (id %d) of space %d cannot be evaluated on %s; skipped",
            info.code,
            info.id,
            info.space_id,
            day.isoformat(),
        )
        return False
    return True


def judged(info: RuleInfo, occs: list[Occurrence], now_ms: int) -> list[Occurrence]:
    """The occurrences a rule answers for: those whose window started after the rule was
    created (a rule imported at noon is not "missed" for the morning, nor for yesterday).
    A creation time later than ``now`` (a replay or a test on another date) means no
    such limit."""
    if info.created_ms > now_ms:
        return occs
    return [o for o in occs if o.window.start_ms >= info.created_ms]
