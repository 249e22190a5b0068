"""Health-kiosk usage as time series: ``kiosk_sessions_hourly`` and ``kiosk_readings_hourly``
(:mod:`facility_contracts.schema`), one point per space (and reading type) and local clock
hour, from the hourly counters, written through the gateway's
:class:`~facility_gateway.writer.PointWriter`.

These counts are the only kiosk data that ever reach the time-series store: tags are
places (district and street region paths, complex site id, space code and type, reading
type), fields are counts and a percentage. No member reference and no reading value can
be in a point, since the counters hold neither (Grafana viewers can query anything in a
data source; PIPL art. 28 and 51). Small counts are not published, since "1 of 1 outside
the range" or "1 of 1 in a crisis range" at a kiosk and hour describes the one person who
measured then (:func:`sessions_fields`, :func:`readings_fields`):

- an hour with fewer than :data:`facility_contracts.schema.KIOSK_MIN_SESSIONS` (3) sessions
  at a space carries ``sessions`` and ``members`` only (no ``consented``, no ``crisis``);
  every crisis is alerted and listed in the server whatever the hour's size;
- an hour with fewer than :data:`facility_contracts.schema.KIOSK_MIN_EVALUATED` (3)
  evaluated readings of a type carries ``readings`` only (no ``evaluated``,
  ``outside_reference``, ``outside_reference_pct``).

The fields are left out, not zeroed, so a share is taken over the hours that carry both
its parts: ``sum(consented) / sum(sessions)`` where ``consented`` is present,
``sum(outside_reference) / sum(evaluated)`` (``evaluated`` is left out too for this).
Writing an hour again rewrites its points (InfluxDB keeps the newer point of a series and
time; VictoriaMetrics keeps both samples: take the last).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from facility_contracts.schema import (
    KIOSK_MIN_EVALUATED,
    KIOSK_MIN_SESSIONS,
    KIOSK_READINGS_HOURLY,
    KIOSK_SESSIONS_HOURLY,
)
from facility_gateway.points import FieldValue, Point, make_point
from facility_gateway.writer import PointWriter
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from facility_server.compliance.calendar import to_ms
from facility_server.models import Complex, ReadingHour, Region, Space, UsageHour

logger = logging.getLogger(__name__)
_BATCH = 5000
#: Hours before now that :func:`write_recent` rewrites (late sessions land in them).
RECENT_H = 48


@dataclass(frozen=True, slots=True)
class Place:
    """Where a complex sits (series tags)."""

    site_id: str
    district: str
    street: str


def _places(session: Session, complex_ids: Iterable[int] | None) -> dict[int, Place]:
    street, district = aliased(Region), aliased(Region)
    stmt = (
        select(Complex.id, Complex.site_id, district.path, street.path)
        .join(street, street.id == Complex.street_id)
        .join(district, district.id == Complex.district_id)
    )
    if complex_ids is not None:
        stmt = stmt.where(Complex.id.in_(list(complex_ids)))
    return {cid: Place(site, d, s) for cid, site, d, s in session.execute(stmt).all()}


def _space_types(session: Session, ids: list[int]) -> dict[tuple[int, str], str]:
    rows = session.execute(
        select(Space.complex_id, Space.code, Space.type).where(Space.complex_id.in_(ids))
    ).all()
    return {(cid, code): t for cid, code, t in rows}


def outside_pct(outside: int, evaluated: int) -> float | None:
    """``outside / evaluated * 100`` (%), None when nothing was evaluated."""
    return None if evaluated == 0 else round(outside * 100 / evaluated, 3)


def sessions_fields(u: UsageHour) -> list[tuple[str, FieldValue]]:
    """The fields of one ``kiosk_sessions_hourly`` point: ``sessions`` and ``members``, and
    with at least :data:`KIOSK_MIN_SESSIONS` sessions also ``consented`` and ``crisis``
    (see the module doc)."""
    fields: list[tuple[str, FieldValue]] = [
        ("sessions", int(u.sessions)),
        ("members", int(u.members)),
    ]
    if u.sessions < KIOSK_MIN_SESSIONS:
        return fields
    return [*fields, ("consented", int(u.consented)), ("crisis", int(u.crisis))]


def readings_fields(r: ReadingHour) -> list[tuple[str, FieldValue]]:
    """The fields of one ``kiosk_readings_hourly`` point: ``readings``, and with at least
    :data:`KIOSK_MIN_EVALUATED` evaluated readings also ``evaluated``,
    ``outside_reference`` and ``outside_reference_pct`` (see the module doc)."""
    fields: list[tuple[str, FieldValue]] = [("readings", int(r.readings))]
    if r.evaluated < KIOSK_MIN_EVALUATED:
        return fields
    fields += [
        ("evaluated", int(r.evaluated)),
        ("outside_reference", int(r.outside_reference)),
    ]
    share = outside_pct(r.outside_reference, r.evaluated)
    if share is not None:
        fields.append(("outside_reference_pct", share))
    return fields


def points_for(
    session: Session, start: datetime, end: datetime, *, complex_ids: Iterable[int] | None = None
) -> list[Point]:
    """Points of the hours starting in ``[start, end)`` (aware instants)."""
    places = _places(session, complex_ids)
    types = _space_types(session, list(places))
    lo, hi = to_ms(start), to_ms(end)
    out: list[Point] = []

    def tags(cid: int, space: str) -> dict[str, str]:
        p = places[cid]
        return {
            "district": p.district,
            "street": p.street,
            "complex": p.site_id,
            "space": space,
            "space_type": types.get((cid, space), "unknown"),
        }

    for u in session.scalars(
        select(UsageHour).where(
            UsageHour.complex_id.in_(list(places)),
            UsageHour.start_ms >= lo,
            UsageHour.start_ms < hi,
        )
    ):
        t_ns = u.start_ms * 1_000_000
        out.append(
            make_point(
                KIOSK_SESSIONS_HOURLY.name,
                tags(u.complex_id, u.space_code),
                sessions_fields(u),
                t_ns,
            )
        )
    for r in session.scalars(
        select(ReadingHour).where(
            ReadingHour.complex_id.in_(list(places)),
            ReadingHour.start_ms >= lo,
            ReadingHour.start_ms < hi,
        )
    ):
        tag = {**tags(r.complex_id, r.space_code), "reading_type": r.reading_type}
        out.append(
            make_point(KIOSK_READINGS_HOURLY.name, tag, readings_fields(r), r.start_ms * 1_000_000)
        )
    return out


def write_series(
    session: Session,
    writer: PointWriter,
    start: datetime,
    end: datetime,
    *,
    complex_ids: Iterable[int] | None = None,
) -> int:
    """Write the points of the hours starting in ``[start, end)``; returns how many.

    Raises:
        StoreUnavailable, StoreRejected: from the writer (call again: rewrites are harmless).
    """
    points = points_for(session, start, end, complex_ids=complex_ids)
    for i in range(0, len(points), _BATCH):
        writer.write(points[i : i + _BATCH])
    logger.info("kiosk series: %d point(s) for %s..%s", len(points), start, end)
    return len(points)


def write_recent(session: Session, writer: PointWriter, now: datetime) -> int:
    """The periodic job: rewrite the hours of the last :data:`RECENT_H` hours."""
    return write_series(session, writer, now - timedelta(hours=RECENT_H), now + timedelta(hours=1))
