"""Satisfaction per service and period, and the rectification items of services under 80%.

:func:`service_tallies` counts the votes of each space in a period (local days of the
complex's zone). :func:`evaluate` opens one item per (space, period) whose rate is under
80% on at least ``min_votes`` votes (unique per space and period: running it twice, or
in two processes, opens one). Items move ``open -> fixed -> verified``; a failed check
sends a fixed item back to ``open``. The caller commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import local_ms
from facility_server.core.db import dialect_insert
from facility_server.models import Complex, Space
from facility_server.satisfaction.models import Rectification, SatisfactionVote
from facility_server.satisfaction.rates import DEFAULT_MIN_VOTES, Tally
from facility_server.utilisation.periods import Period

STATES = ("open", "fixed", "verified")


class RectificationStateError(ValueError):
    """A transition the item's lifecycle does not allow."""


def service_tallies(
    session: Session, complex_ids: Iterable[int], period: Period
) -> dict[int, Tally]:
    """Space id -> votes of ``period`` (local days of each complex's zone)."""
    ids = list(complex_ids)
    zones = {
        cid: zone
        for cid, zone in session.execute(
            select(Complex.id, Complex.timezone).where(Complex.id.in_(ids))
        )
    }
    out: dict[int, Tally] = defaultdict(Tally)
    for zone in set(zones.values()):
        tz = ZoneInfo(zone)
        members = [cid for cid, z in zones.items() if z == zone]
        stmt = (
            select(SatisfactionVote.space_id, SatisfactionVote.rating, func.count())
            .where(
                SatisfactionVote.complex_id.in_(members),
                SatisfactionVote.space_id.is_not(None),
                SatisfactionVote.ts_ms >= local_ms(tz, period.first, 0),
                SatisfactionVote.ts_ms < local_ms(tz, period.end, 0),
            )
            .group_by(SatisfactionVote.space_id, SatisfactionVote.rating)
        )
        for sid, rating, n in session.execute(stmt):
            out[sid].add(rating, n)
    return dict(out)


def evaluate(
    session: Session,
    period: Period,
    now: datetime,
    *,
    complex_ids: Iterable[int] | None = None,
    min_votes: int = DEFAULT_MIN_VOTES,
) -> list[Rectification]:
    """Open rectification items for services under 80% in ``period``.

    Returns:
        Every item of the period for the services under 80% (new or existing).
    """
    ids = list(session.scalars(select(Complex.id))) if complex_ids is None else list(complex_ids)
    tallies = service_tallies(session, ids, period)
    below = {sid: t for sid, t in tallies.items() if t.below(min_votes)}
    if not below:
        return []
    owners = {
        sid: cid
        for sid, cid in session.execute(
            select(Space.id, Space.complex_id).where(Space.id.in_(below))
        )
    }
    rows = [
        {
            "complex_id": owners[sid],
            "space_id": sid,
            "period": period.key,
            "rate_pct": round(t.rate_pct or 0.0, 2),
            "votes": t.votes,
            "state": "open",
            "opened_at": now,
            "fix_note": "",
            "verify_note": "",
        }
        for sid, t in below.items()
        if sid in owners
    ]
    builder = dialect_insert(session)
    stmt = builder(Rectification).on_conflict_do_nothing(index_elements=["space_id", "period"])
    session.execute(stmt, rows)
    return list(
        session.scalars(
            select(Rectification).where(
                Rectification.period == period.key, Rectification.space_id.in_(below)
            )
        )
    )


def mark_fixed(item: Rectification, by: str, note: str, now: datetime) -> None:
    """open -> fixed: the complex says what it changed.

    Raises:
        RectificationStateError: unless the item is open.
    """
    if item.state != "open":
        raise RectificationStateError(f"cannot mark a {item.state} item fixed")
    item.state, item.fixed_at, item.fixed_by, item.fix_note = "fixed", now, by, note[:500]


def verify(item: Rectification, by: str, note: str, now: datetime, *, accepted: bool) -> None:
    """fixed -> verified (accepted) or back to open (the check found it not fixed).

    Raises:
        RectificationStateError: unless the item is fixed.
    """
    if item.state != "fixed":
        raise RectificationStateError(f"cannot verify a {item.state} item")
    item.verified_by, item.verify_note = by, note[:500]
    if accepted:
        item.state, item.verified_at = "verified", now
    else:
        item.state, item.fixed_at, item.fixed_by = "open", None, None
