"""Compute and store the hourly and daily utilisation aggregates of spaces.

:func:`compute` is pure: door events and opening/closing check-ins of one space over a
range of local days -> hour and day rows. :func:`refresh_days` loads, computes and
upserts them (``INSERT ... ON CONFLICT DO UPDATE``, SQLite and PostgreSQL), so running
it twice, or in two processes, gives the same rows. :func:`refresh` is what a periodic
tick calls: today and yesterday of every space, plus the days that received late door
events since the previous run. The caller commits.

Occupancy of a day starts from the reset at the previous day's closing (see
:mod:`facility_server.utilisation.occupancy`); nothing after ``now`` is counted.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import local_day, local_ms
from facility_server.core.db import dialect_insert
from facility_server.models import DoorCrossing
from facility_server.utilisation.actual import day_opening
from facility_server.utilisation.load import (
    SpaceRef,
    load_crossings,
    load_marks,
    load_spaces,
    to_ms,
)
from facility_server.utilisation.models import UtilisationDay, UtilisationHour
from facility_server.utilisation.occupancy import (
    Bucket,
    Crossing,
    hour_bounds,
    open_ranges,
    reset_instants,
    track,
)

logger = logging.getLogger(__name__)
_FIGURES = ("visits", "exits", "peak", "clamped", "open_min", "occupied_min", "person_min")


def _bounds(space: SpaceRef, first: date, last: date, now_ms: int) -> tuple[list[int], int]:
    """Hour bounds of ``[first, last]`` capped at now, preceded by the previous day's
    reset when it falls before local midnight of ``first``; and the day start (ms)."""
    tz = space.tz
    start = reset_instants(space.schedule, [first - timedelta(days=1)])[first - timedelta(days=1)]
    bounds = [b for b in hour_bounds(tz, first, last + timedelta(days=1)) if b < now_ms]
    midnight = local_ms(tz, first, 0)
    if bounds and bounds[-1] < local_ms(tz, last + timedelta(days=1), 0):
        bounds.append(min(now_ms, local_ms(tz, last + timedelta(days=1), 0)))
    if start < midnight:
        bounds.insert(0, start)
    return bounds, midnight


def _hour_row(space: SpaceRef, b: Bucket) -> dict[str, Any]:
    return {
        "space_id": space.id,
        "start_ms": b.start_ms,
        "complex_id": space.complex_id,
        "day": local_day(space.tz, b.start_ms),
        **{k: getattr(b, k) for k in _FIGURES},
    }


def compute(
    space: SpaceRef,
    crossings: Sequence[Crossing],
    marks: Sequence[tuple[int, str]],
    first: date,
    last: date,
    now_ms: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Hour and day rows of local days ``[first, last]`` of ``space`` (pure).

    Hours are kept when the space was open or had door activity in them; every day of
    the range up to ``now_ms`` gets a row. ``drift`` is the occupancy at the day's
    reset (0 while the reset is still ahead).
    """
    bounds, midnight = _bounds(space, first, last, now_ms)
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    days = [d for d in days if local_ms(space.tz, d, 0) < now_ms]
    if len(bounds) < 2 or not days:
        return [], []
    span = [first - timedelta(days=1), *days]
    result = track(
        crossings,
        bounds=bounds,
        resets=list(reset_instants(space.schedule, span).values()),
        opens=open_ranges(space.schedule, span),
    )
    hours = [
        _hour_row(space, b)
        for b in result.buckets
        if b.start_ms >= midnight and (b.open_min or b.visits or b.exits or b.peak)
    ]
    resets = reset_instants(space.schedule, days)
    ordered = sorted(crossings, key=lambda c: c.ts_ms)
    rows = [_day_row(space, day, result.buckets, ordered, marks, now_ms) for day in days]
    for row in rows:
        row["drift"] = result.drifts.get(resets[row["day"]], 0)
    return hours, rows


def _day_row(
    space: SpaceRef,
    day: date,
    buckets: Sequence[Bucket],
    crossings: Sequence[Crossing],
    marks: Sequence[tuple[int, str]],
    now_ms: int,
) -> dict[str, Any]:
    """The day row of ``day`` (``crossings`` sorted by time; drift filled by the caller)."""
    tz = space.tz
    lo, hi = local_ms(tz, day, 0), local_ms(tz, day + timedelta(days=1), 0)
    row: dict[str, Any] = {"space_id": space.id, "day": day, "complex_id": space.complex_id}
    starts = [b.start_ms for b in buckets]
    own = buckets[bisect.bisect_left(starts, lo) : bisect.bisect_left(starts, hi)]
    for key in _FIGURES:
        values = [getattr(b, key) for b in own]
        row[key] = (max(values) if key == "peak" else sum(values)) if values else 0
    keys = [c.ts_ms for c in crossings]
    today = crossings[bisect.bisect_left(keys, lo) : bisect.bisect_left(keys, hi)]
    times = [c.ts_ms for c in today if c.people_in or c.people_out]
    scheduled = [(s, e) for s, e in open_ranges(space.schedule, [day])]
    opening = day_opening(
        day_range=(lo, hi),
        scheduled=scheduled,
        marks=[m for m in marks if lo <= m[0] < hi],
        crossings=times,
        now_ms=now_ms if now_ms < hi else None,
    )
    row.update(
        actual_open_min=opening.minutes,
        evidence=opening.evidence,
        first_ms=min(times) if times else None,
        last_ms=max(times) if times else None,
        updated_ms=now_ms,
        drift=0,
    )
    return row


def _upsert(session: Session, model: type, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    stmt = dialect_insert(session)(model)
    names = [k for k in rows[0] if k not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={k: stmt.excluded[k] for k in names}
    )
    for i in range(0, len(rows), 2000):
        session.execute(stmt, rows[i : i + 2000])


def refresh_days(
    session: Session,
    now: datetime,
    first: date,
    last: date,
    *,
    space_ids: Iterable[int] | None = None,
    complex_ids: Iterable[int] | None = None,
) -> int:
    """Recompute and store local days ``[first, last]`` of some spaces (all by default).

    Raises:
        ValueError: when ``now`` is naive.

    Returns:
        Day rows written.
    """
    now_ms = to_ms(now)
    spaces = load_spaces(session, complex_ids=complex_ids, space_ids=space_ids)
    if not spaces:
        return 0
    lo = min(local_ms(s.tz, first - timedelta(days=1), 0) for s in spaces.values())
    hi = max(local_ms(s.tz, last + timedelta(days=1), 0) for s in spaces.values())
    crossings = load_crossings(session, spaces, lo, hi)
    marks = load_marks(session, spaces, lo, hi)
    written = 0
    for sid, space in spaces.items():
        hours, days = compute(
            space, crossings.get(sid, []), marks.get(sid, []), first, last, now_ms
        )
        _upsert(session, UtilisationHour, hours, ["space_id", "start_ms"])
        _upsert(session, UtilisationDay, days, ["space_id", "day"])
        keep = [h["start_ms"] for h in hours]
        session.execute(
            delete(UtilisationHour).where(
                UtilisationHour.space_id == sid,
                UtilisationHour.day >= first,
                UtilisationHour.day <= last,
                UtilisationHour.start_ms.not_in(keep),
            )
        )
        written += len(days)
    return written


def late_days(session: Session, since: datetime, now: datetime) -> dict[int, set[date]]:
    """Space id -> local days of door events received in ``[since, now)`` (late data)."""
    rows = session.execute(
        select(DoorCrossing.space_id, func.min(DoorCrossing.ts), func.max(DoorCrossing.ts))
        .where(DoorCrossing.received_at >= since, DoorCrossing.received_at < now)
        .where(DoorCrossing.space_id.is_not(None))
        .group_by(DoorCrossing.space_id)
    ).all()
    if not rows:
        return {}
    spaces = load_spaces(session, space_ids=[r[0] for r in rows])
    out: dict[int, set[date]] = defaultdict(set)
    for sid, lo, hi in rows:
        tz = spaces[sid].tz
        day, end = lo.astimezone(tz).date(), hi.astimezone(tz).date()
        while day <= end:
            out[sid].add(day)
            day += timedelta(days=1)
    return out


def refresh(session: Session, now: datetime, *, since: datetime | None = None) -> int:
    """The periodic job: yesterday and today (local) of every space, plus the days of
    door events received since ``since`` (the previous run). The caller commits.

    Returns:
        Day rows written.
    """
    base = now.astimezone(UTC).date()  # every zone's today is within a day of UTC's
    written = refresh_days(session, now, base - timedelta(days=2), base + timedelta(days=1))
    for sid, days in (late_days(session, since, now) if since else {}).items():
        written += refresh_days(session, now, min(days), max(days), space_ids=[sid])
    logger.debug("utilisation: %d day row(s) refreshed", written)
    return written
