"""Compliance as a time series: per space and local day, counts of due / on time / late /
missed / unknown / excused occurrences and the on-time rate, tagged by complex (site),
street and district; measurement ``compliance_daily`` of
:mod:`facility_contracts.schema`, written through the gateway's
:class:`~facility_gateway.writer.PointWriter` (InfluxDB, VictoriaMetrics or the embedded
store).

A day is written once it is over (local time of the complex) and written again when its
counts change (late data): InfluxDB then keeps the newer point (same series and time);
VictoriaMetrics keeps both samples (take the last). Which day was written with which
counts is kept in ``compliance_series_marks``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from facility_contracts.schema import COMPLIANCE_DAILY
from facility_gateway.points import Point, make_point
from facility_gateway.writer import PointWriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import local_ms
from facility_server.core.db import dialect_insert
from facility_server.models import Complex, Region, SeriesMark, Space, TaskOccurrence

logger = logging.getLogger(__name__)
COUNTED = ("on_time", "late", "missed", "unknown", "excused")


@dataclass(frozen=True, slots=True)
class SpaceDay:
    """Counts of one space on one local day, and its tags."""

    site: str
    space: str
    space_type: str
    street: str
    district: str
    day: date
    tz: ZoneInfo
    counts: Mapping[str, int]


def point_of(row: SpaceDay) -> Point:
    """The ``compliance_daily`` point of one space-day (time: local midnight, ns)."""
    c = row.counts
    due = sum(c.get(s, 0) for s in ("due", "on_time", "late", "missed", "unknown"))
    fields: list[tuple[str, int | float]] = [("due", due)]
    fields += [(name, int(c.get(name, 0))) for name in COUNTED]
    decided = c.get("on_time", 0) + c.get("late", 0) + c.get("missed", 0)
    if decided:
        fields.append(("rate_pct", round(100.0 * c.get("on_time", 0) / decided, 2)))
    tags = {
        "site": row.site,
        "space": row.space,
        "space_type": row.space_type,
        "street": row.street,
        "district": row.district,
    }
    return make_point(COMPLIANCE_DAILY.name, tags, fields, local_ms(row.tz, row.day, 0) * 1_000_000)


def _digest(rows: Iterable[SpaceDay]) -> str:
    text = repr(sorted((r.space, sorted(r.counts.items())) for r in rows))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def day_rows(session: Session, days: list[date]) -> dict[tuple[int, date], list[SpaceDay]]:
    """(complex id, day) -> counts per space, from the stored occurrences."""
    stmt = select(
        TaskOccurrence.complex_id, TaskOccurrence.space_id, TaskOccurrence.day, TaskOccurrence.state
    ).where(TaskOccurrence.day.in_(days))
    counts: dict[tuple[int, int, date], Counter[str]] = defaultdict(Counter)
    for cid, sid, day, state in session.execute(stmt):
        counts[(cid, sid, day)][state] += 1
    if not counts:
        return {}
    info = {
        sid: (code, type_, site, ZoneInfo(tz), street, district)
        for sid, code, type_, site, tz, street, district in session.execute(
            select(
                Space.id,
                Space.code,
                Space.type,
                Complex.site_id,
                Complex.timezone,
                Complex.street_id,
                Complex.district_id,
            )
            .join(Complex, Complex.id == Space.complex_id)
            .where(Space.id.in_({k[1] for k in counts}))
        )
    }
    paths = dict(session.execute(select(Region.id, Region.path)).all())
    out: dict[tuple[int, date], list[SpaceDay]] = defaultdict(list)
    for (cid, sid, day), c in sorted(counts.items()):
        code, type_, site, tz, street, district = info[sid]
        out[(cid, day)].append(
            SpaceDay(site, code, type_, paths.get(street, ""), paths.get(district, ""), day, tz, c)
        )
    return out


def write_series(session: Session, writer: PointWriter, now: datetime, days_back: int = 2) -> int:
    """Write the points of the last ``days_back`` finished local days whose counts are new
    or changed since last written; the caller commits (marks are set only after the
    write succeeded: a failed write is tried again next time).

    Returns:
        Points written.

    Raises:
        StoreUnavailable, StoreRejected: from the writer.
    """
    base = now.astimezone(ZoneInfo("UTC")).date()  # every zone's today is within a day of it
    days = [base - timedelta(days=k) for k in range(-1, days_back + 1)]
    rows = day_rows(session, days)
    marks = {
        (m.complex_id, m.day): m.digest
        for m in session.scalars(select(SeriesMark).where(SeriesMark.day.in_(days)))
    }
    points, new_marks = [], []
    for (cid, day), items in rows.items():
        local_today = now.astimezone(items[0].tz).date()
        if not local_today - timedelta(days=days_back) <= day < local_today:
            continue
        digest = _digest(items)
        if marks.get((cid, day)) == digest:
            continue
        points += [point_of(r) for r in items]
        new_marks.append({"complex_id": cid, "day": day, "digest": digest, "written_at": now})
    if points:
        writer.write(points)
        builder = dialect_insert(session)
        stmt = builder(SeriesMark)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["complex_id", "day"],
                set_={"digest": stmt.excluded.digest, "written_at": stmt.excluded.written_at},
            ),
            new_marks,
        )
        logger.info(
            "compliance series: %d point(s) for %d complex-day(s)", len(points), len(new_marks)
        )
    return len(points)
