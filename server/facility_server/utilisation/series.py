"""Utilisation as a time series: the stored hour and day aggregates as points of
``utilisation_hourly`` / ``utilisation_daily`` (:mod:`facility_contracts.schema`), tagged
district, street (region paths), complex (site id), space and space type, written through
the gateway's :class:`~facility_gateway.writer.PointWriter` (InfluxDB, VictoriaMetrics or
the embedded store).

Writing a period again rewrites its points: InfluxDB keeps the newer point of a series
and time; VictoriaMetrics keeps both samples (take the last).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from facility_contracts.schema import UTILISATION_DAILY, UTILISATION_HOURLY
from facility_gateway.points import Point, make_point
from facility_gateway.writer import PointWriter
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import local_ms
from facility_server.utilisation.load import SpaceRef, load_spaces
from facility_server.utilisation.metrics import total
from facility_server.utilisation.summary import day_rows, hour_rows

logger = logging.getLogger(__name__)
_BATCH = 5000


def tags_of(space: SpaceRef) -> dict[str, str]:
    """The series tags of a space."""
    return {
        "district": space.district,
        "street": space.street,
        "complex": space.site_id,
        "space": space.code,
        "space_type": space.type,
    }


def _fields(row: Mapping[str, Any], capacity: int, daily: bool) -> list[tuple[str, Any]]:
    f = total([row])
    fields: list[tuple[str, Any]] = [
        ("visits", int(row["visits"])),
        ("exits", int(row["exits"])),
        ("peak_occupancy", int(row["peak"])),
        ("clamped", int(row["clamped"])),
        ("open_min", float(row["open_min"])),
        ("occupied_min", float(row["occupied_min"])),
        ("person_min", float(row["person_min"])),
    ]
    if f.utilisation_pct is not None:
        fields.append(("utilisation_pct", round(f.utilisation_pct, 3)))
    occupancy = f.occupancy_pct(capacity)
    if occupancy is not None:
        fields.append(("occupancy_pct", round(occupancy, 3)))
    if daily:
        fields += [("drift", int(row["drift"])), ("actual_open_min", float(row["actual_open_min"]))]
    return fields


def hourly_point(space: SpaceRef, row: Mapping[str, Any]) -> Point:
    """The ``utilisation_hourly`` point of one hour row (time: the hour's start, ns)."""
    return make_point(
        UTILISATION_HOURLY.name,
        tags_of(space),
        _fields(row, space.capacity, False),
        int(row["start_ms"]) * 1_000_000,
    )


def daily_point(space: SpaceRef, row: Mapping[str, Any]) -> Point:
    """The ``utilisation_daily`` point of one day row (time: local midnight, ns)."""
    return make_point(
        UTILISATION_DAILY.name,
        tags_of(space),
        _fields(row, space.capacity, True),
        local_ms(space.tz, row["day"], 0) * 1_000_000,
    )


def points_for(
    session: Session, first: date, end: date, *, complex_ids: Iterable[int] | None = None
) -> list[Point]:
    """Hourly and daily points of the stored aggregates of local days ``[first, end)``."""
    spaces = load_spaces(session, complex_ids=complex_ids)
    days = day_rows(session, list(spaces), first, end)
    out = []
    for sid, space in spaces.items():
        lo, hi = local_ms(space.tz, first, 0), local_ms(space.tz, end, 0)
        out += [hourly_point(space, r) for r in hour_rows(session, sid, lo, hi)]
        out += [daily_point(space, r) for r in days.get(sid, [])]
    return out


def write_series(
    session: Session,
    writer: PointWriter,
    first: date,
    end: date,
    *,
    complex_ids: Iterable[int] | None = None,
) -> int:
    """Write the points of local days ``[first, end)``; returns how many.

    Raises:
        StoreUnavailable, StoreRejected: from the writer (nothing is marked: call again).
    """
    points = points_for(session, first, end, complex_ids=complex_ids)
    for i in range(0, len(points), _BATCH):
        writer.write(points[i : i + _BATCH])
    logger.info("utilisation series: %d point(s) for %s..%s", len(points), first, end)
    return len(points)


def write_recent(session: Session, writer: PointWriter, now: datetime) -> int:
    """The periodic job: write yesterday's and today's points (local, every zone)."""
    base = now.astimezone(UTC).date()
    return write_series(session, writer, base - timedelta(days=2), base + timedelta(days=2))
