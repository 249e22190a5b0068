"""The compliance engine: occurrences as a pure function of (rule, calendar, check-ins, now).

:func:`evaluate` gives every occurrence of one rule that touches the given local days
(days for daily rules, rounds for patrols, the periods containing them for quotas).
Nothing here reads a clock or a database: the server's tick and its on-arrival
re-evaluation (:mod:`facility_server.compliance.tick`) load the inputs and store the
results. Instants are UTC epoch ms; days are local dates of the complex's zone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, timedelta

from facility_server.compliance.calendar import period_of
from facility_server.compliance.daily import evaluate_daily
from facility_server.compliance.patrol import evaluate_patrol
from facility_server.compliance.quota import evaluate_quota
from facility_server.compliance.rules import DailyRule, PatrolRule, QuotaRule
from facility_server.compliance.views import Occurrence, SpaceContext

AnyRule = DailyRule | PatrolRule | QuotaRule


def evaluate(
    rule: AnyRule, ctx: SpaceContext, days: Iterable[date], now_ms: int
) -> list[Occurrence]:
    """Occurrences of ``rule`` on local ``days`` at ``now_ms`` (UTC ms), in time order,
    each key once (pending ones included: they are the rest of the day's plan)."""
    ordered = sorted(set(days))
    if len(ordered) == 1:  # the usual tick: one day's occurrences come in order, keys unique
        return _on_day(rule, ctx, ordered[0], now_ms)
    out: dict[str, Occurrence] = {}
    for day in ordered:
        for occ in _on_day(rule, ctx, day, now_ms):
            out.setdefault(occ.key, occ)
    return sorted(out.values(), key=lambda o: (o.window.start_ms, o.key))


def _on_day(rule: AnyRule, ctx: SpaceContext, day: date, now_ms: int) -> list[Occurrence]:
    """Occurrences of one local day, in time order (a patrol's rounds; else one)."""
    if isinstance(rule, PatrolRule):
        return evaluate_patrol(rule, ctx, day, now_ms)
    if isinstance(rule, DailyRule):
        return [evaluate_daily(rule, ctx, day, now_ms)]
    return [evaluate_quota(rule, ctx, day, now_ms)]


#: Minutes into a local day during which the tick still evaluates the previous day
#: (windows crossing midnight, late check-ins, grace): 12 h.
CARRY_MIN = 720


def horizon(rule: AnyRule, today: date, minute: int, carry_min: int = CARRY_MIN) -> list[date]:
    """The local days a tick evaluates for ``rule`` when it is ``minute`` minutes past local
    midnight of ``today``: today; yesterday during the first ``carry_min`` minutes; for a
    quota also a day of the previous period while that period's grace (+ carry) runs.
    Older occurrences still ``due`` or ``unknown`` are added by the caller."""
    days = [today]
    if minute < carry_min:
        days.append(today - timedelta(days=1))
    if isinstance(rule, QuotaRule):
        first, _, _ = period_of(rule.period, today)
        if (today - first).days * 1440 + minute < rule.grace_min + carry_min:
            days.append(first - timedelta(days=1))
    return days


def digest(occ: Occurrence) -> str:
    """A 16-hex-digit fingerprint of everything stored about an occurrence."""
    w = occ[0]  # by position: the tick digests every occurrence it stores
    # (state, start, deadline, alert, until, satisfied_by, done, reported, done_count,
    # needed_count, missing, reason): the same text as naming each field would give
    text = repr((occ[1], w[2], w[3], w[4], w[5], occ[2], *occ[3:9]))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
