"""The 4+5+X scorecard (issue 6): every measurable clause of the standard per complex,
with its value, target and pass/fail, rolled up per street and district.

:func:`scorecard` and :func:`region_scorecard` return JSON-ready dictionaries (the API,
the half-year report and the demo use them). They read the stored utilisation
aggregates (refresh them first, :mod:`facility_server.utilisation.refresh`), the
compliance occurrences of issue 5, check-ins and satisfaction votes. Clauses and their
judgement: :mod:`facility_server.scorecard.clauses`; definitions: docs/metrics.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import local_ms
from facility_server.models import Complex, Region
from facility_server.satisfaction.rates import DEFAULT_MIN_VOTES
from facility_server.scorecard.clauses import all_clauses
from facility_server.scorecard.facts import ComplexFacts
from facility_server.scorecard.gather import gather
from facility_server.utilisation.load import to_datetime
from facility_server.utilisation.periods import Period, parse_period

STATUSES = ("pass", "fail", "pending", "insufficient", "n/a", "info")


def period_end(period: Period, tz: ZoneInfo) -> datetime:
    """The end of ``period``: local midnight after its last day, as a UTC datetime."""
    return to_datetime(local_ms(tz, period.end, 0))


def as_of(period: Period, tz: ZoneInfo, now: datetime | None) -> datetime:
    """The instant a period is judged at: ``now`` (None: the current time, UTC) clamped
    to the period's end, so a period still running is judged as of today (units not yet
    ended are ``pending``) and a past one as of its end.

    Raises:
        ValueError: naive ``now``.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be tz-aware, got {now.isoformat()!r}")
    return min(now, period_end(period, tz))


def card_of(
    facts: ComplexFacts, *, min_votes: int, utilisation_target: float | None
) -> dict[str, Any]:
    """The scorecard of one complex from its facts."""
    clauses = all_clauses(facts, min_votes=min_votes, utilisation_target=utilisation_target)
    counts = Counter(c["status"] for c in clauses)
    return {
        "complex": {
            "site": facts.site_id,
            "name": facts.name,
            "street": facts.street,
            "district": facts.district,
            "timezone": str(facts.tz),
        },
        "period": {
            "key": facts.period.key,
            "from": facts.period.first.isoformat(),
            "to": facts.period.end.isoformat(),
            "as_of": facts.today.isoformat(),
        },
        "clauses": clauses,
        "summary": {s: counts.get(s, 0) for s in STATUSES},
        "all_pass": counts.get("fail", 0) == 0 and counts.get("pass", 0) > 0,
    }


def scorecard(
    session: Session,
    site_id: str,
    period: str | Period,
    *,
    now: datetime | None = None,
    min_votes: int = DEFAULT_MIN_VOTES,
    utilisation_target: float | None = None,
) -> dict[str, Any]:
    """The scorecard of complex ``site_id`` for ``period`` (``2026H1``, ``2026-06`` ...).

    Args:
        now: judge as of this instant, clamped to the period's end (units of time not
            yet ended are ``pending``); None: the current time.
        min_votes: fewest votes for a service's satisfaction rate to count.
        utilisation_target: an optional district target for utilisation (%); the
            standard sets none, so the clause is ``info`` without it.

    Raises:
        LookupError: unknown site. PeriodError: bad period text. ValueError: naive now.
    """
    cx = session.scalar(select(Complex).where(Complex.site_id == site_id))
    if cx is None:
        raise LookupError(f"no complex {site_id!r}")
    p = period if isinstance(period, Period) else parse_period(period)
    facts = gather(session, [cx.id], p, as_of(p, ZoneInfo(cx.timezone), now))
    if not facts:
        facts = [
            ComplexFacts(
                cx.id,
                cx.site_id,
                cx.name,
                "",
                "",
                ZoneInfo(cx.timezone),
                p,
                as_of(p, ZoneInfo(cx.timezone), now).date(),
            )
        ]
    return card_of(facts[0], min_votes=min_votes, utilisation_target=utilisation_target)


def resolve_region(session: Session, kind: str, text: str) -> Region:
    """A street or district by id, path (``xihu/beishan``) or unique code.

    Raises:
        LookupError: none or several match.
    """
    cond = [Region.path == text, Region.code == text]
    if text.isdigit():
        cond.append(Region.id == int(text))
    found = list(session.scalars(select(Region).where(Region.kind == kind, or_(*cond))))
    exact = [r for r in found if r.path == text or str(r.id) == text]
    if len(exact) == 1:
        return exact[0]
    if len(found) != 1:
        raise LookupError(f"{kind} {text!r}: {len(found)} match(es)")
    return found[0]


def rollup(cards: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per clause: complexes by status and the pass rate (pass / (pass + fail), %)."""
    order = [c["clause"] for c in cards[0]["clauses"]] if cards else []
    out = []
    for key in order:
        statuses = Counter(
            c["status"] for card in cards for c in card["clauses"] if c["clause"] == key
        )
        judged = statuses.get("pass", 0) + statuses.get("fail", 0)
        out.append(
            {
                "clause": key,
                **{s: statuses.get(s, 0) for s in STATUSES},
                "pass_rate_pct": round(100.0 * statuses.get("pass", 0) / judged, 1)
                if judged
                else None,
            }
        )
    return out


def region_scorecard(
    session: Session,
    kind: str,
    region: str,
    period: str | Period,
    *,
    now: datetime | None = None,
    min_votes: int = DEFAULT_MIN_VOTES,
    utilisation_target: float | None = None,
) -> dict[str, Any]:
    """Scorecards of every complex of a ``street`` or ``district`` and their roll-up.

    Raises:
        LookupError: unknown region. PeriodError: bad period text.
    """
    reg = resolve_region(session, kind, region)
    column = Complex.street_id if kind == "street" else Complex.district_id
    cxs = list(session.scalars(select(Complex).where(column == reg.id).order_by(Complex.id)))
    p = period if isinstance(period, Period) else parse_period(period)
    tz = ZoneInfo(cxs[0].timezone) if cxs else ZoneInfo("Asia/Shanghai")
    facts = gather(session, [c.id for c in cxs], p, as_of(p, tz, now))
    cards = [card_of(f, min_votes=min_votes, utilisation_target=utilisation_target) for f in facts]
    return {
        "region": {"kind": kind, "id": reg.id, "path": reg.path, "name": reg.name},
        "period": {"key": p.key, "from": p.first.isoformat(), "to": p.end.isoformat()},
        "complexes": cards,
        "rollup": rollup(cards),
        "all_pass": sum(1 for c in cards if c["all_pass"]),
    }
