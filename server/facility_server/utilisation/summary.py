"""Utilisation as JSON-ready dictionaries: per space over a range, per period grain, and
a complex's summary for the demo and the API (definitions: docs/metrics.md)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import local_ms
from facility_server.models import Complex
from facility_server.utilisation.actual import QUOTAS
from facility_server.utilisation.load import SpaceRef, load_spaces, to_datetime
from facility_server.utilisation.metrics import Figures, rollup, total
from facility_server.utilisation.models import UtilisationDay, UtilisationHour
from facility_server.utilisation.periods import Grain, week_start
from facility_server.utilisation.refresh import refresh_days

_DAY_COLUMNS = (
    "space_id",
    "day",
    "visits",
    "exits",
    "peak",
    "clamped",
    "drift",
    "open_min",
    "occupied_min",
    "person_min",
    "actual_open_min",
)
_HOUR_COLUMNS = (
    "space_id",
    "start_ms",
    "visits",
    "exits",
    "peak",
    "clamped",
    "open_min",
    "occupied_min",
    "person_min",
)

DEFINITIONS = {
    "utilisation_pct": "occupied hours while open / open hours (published) x 100",
    "occupancy_pct": "mean occupancy while open / capacity x 100",
    "open_h": "hours open by the published hours (exceptions and holidays applied)",
    "actual_open_h": "hours actually open (staff opening/closing check-ins, else door activity)",
    "drift": "people still counted inside at closing, summed over days",
    "clamped": "people removed because occupancy would have gone negative (anomaly)",
}


def day_rows(
    session: Session, space_ids: list[int], first: date, end: date
) -> dict[int, list[dict[str, Any]]]:
    """Stored day rows of local days ``[first, end)`` per space, in day order."""
    cols = [getattr(UtilisationDay, c) for c in _DAY_COLUMNS]
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for i in range(0, len(space_ids), 500):
        stmt = (
            select(*cols)
            .where(
                UtilisationDay.space_id.in_(space_ids[i : i + 500]),
                UtilisationDay.day >= first,
                UtilisationDay.day < end,
            )
            .order_by(UtilisationDay.space_id, UtilisationDay.day)
        )
        for row in session.execute(stmt):
            out[row[0]].append(dict(zip(_DAY_COLUMNS, row, strict=True)))
    return out


def hour_rows(session: Session, space_id: int, lo_ms: int, hi_ms: int) -> list[dict[str, Any]]:
    """Stored hour rows of one space with ``lo_ms <= start < hi_ms``, in time order."""
    cols = [getattr(UtilisationHour, c) for c in _HOUR_COLUMNS]
    stmt = (
        select(*cols)
        .where(
            UtilisationHour.space_id == space_id,
            UtilisationHour.start_ms >= lo_ms,
            UtilisationHour.start_ms < hi_ms,
        )
        .order_by(UtilisationHour.start_ms)
    )
    return [dict(zip(_HOUR_COLUMNS, row, strict=True)) for row in session.execute(stmt)]


def space_periods(
    session: Session, space: SpaceRef, first: date, end: date, grain: Grain
) -> list[dict[str, Any]]:
    """Figures of one space per ``grain`` over local days ``[first, end)``."""
    if grain == "hour":
        rows = hour_rows(
            session, space.id, local_ms(space.tz, first, 0), local_ms(space.tz, end, 0)
        )
        return [
            {
                "key": to_datetime(r["start_ms"]).astimezone(space.tz).isoformat(),
                **total([r]).as_json(space.capacity),
            }
            for r in rows
        ]
    rows = day_rows(session, [space.id], first, end).get(space.id, [])
    return [
        {"key": key, "start": start.isoformat(), **figures.as_json(space.capacity)}
        for key, (start, figures) in rollup(rows, grain).items()
    ]


def weekly_opening(
    rows: list[dict[str, Any]], space_type: str, first: date, end: date
) -> list[dict[str, Any]]:
    """Actual open hours and days per ISO week inside ``[first, end)`` against the
    space type's quota (culture >= 28 h, health >= 5 days; others: no target)."""
    quota = QUOTAS.get(space_type)
    weeks: dict[date, Figures] = defaultdict(Figures)
    for row in rows:
        weeks[week_start(row["day"])].add(row)
    out = []
    for monday in sorted(weeks):
        if monday < first or monday + timedelta(days=7) > end:
            continue
        f = weeks[monday]
        value = f.actual_open_min / 60 if quota and quota.kind == "hours" else f.open_days
        out.append(
            {
                "week": f"{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}",
                "actual_open_h": round(f.actual_open_min / 60, 2),
                "open_days": f.open_days,
                "quota": None if quota is None else f"{quota.kind} >= {quota.target:g}",
                "met": None if quota is None else value >= quota.target - 1e-9,
            }
        )
    return out


def _range(cx: Complex, start: date | datetime, end: date | datetime) -> tuple[date, date]:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(cx.timezone)

    def local(value: date | datetime, is_end: bool) -> date:
        if not isinstance(value, datetime):
            return value
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a tz-aware instant or a date")
        at = value.astimezone(tz)
        bump = is_end and (at.hour, at.minute, at.second, at.microsecond) != (0, 0, 0, 0)
        return at.date() + timedelta(days=1) if bump else at.date()

    return local(start, False), local(end, True)


def _space_json(
    space: SpaceRef, own: list[dict[str, Any]], first: date, last: date
) -> dict[str, Any]:
    """One space of :func:`utilisation_summary`: figures, days, weekly opening."""
    return {
        "space": space.code,
        "name": space.name,
        "type": space.type,
        "capacity": space.capacity,
        **total(own).as_json(space.capacity),
        "days": [{"day": r["day"].isoformat(), **total([r]).as_json(space.capacity)} for r in own],
        "weekly_opening": weekly_opening(own, space.type, first, last),
    }


def _totals(spaces: dict[int, SpaceRef], rows: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    """All spaces summed; the occupancy rate weighs each space's open time by its capacity
    (person-hours / seat-hours); ``days`` and ``open_days`` count space-days."""
    everything = total(r for sid in spaces for r in rows.get(sid, []))
    out = everything.as_json(0)
    seat_min = sum(total(rows.get(sid, [])).open_min * s.capacity for sid, s in spaces.items())
    out["occupancy_pct"] = round(100 * everything.person_min / seat_min, 1) if seat_min else None
    out["mean_occupancy"] = None  # a sum over spaces has no single mean occupancy
    return out


def utilisation_summary(
    session: Session,
    site_id: str,
    start: date | datetime,
    end: date | datetime,
    *,
    now: datetime | None = None,
    refresh: bool = True,
) -> dict[str, Any]:
    """Utilisation per space of complex ``site_id`` over local days ``[start, end)``.

    Args:
        session: a session (the caller commits when ``refresh`` wrote rows).
        site_id: the complex's site id.
        start, end: local dates, or tz-aware instants (their local dates; an end that
            is not local midnight includes its day).
        now: the current instant (UTC); defaults to the earlier of ``end`` and the
            wall clock. Nothing after it is counted.
        refresh: recompute the stored aggregates of the range first.

    Returns:
        ``{"complex", "from", "to", "definitions", "spaces": [...], "totals"}``; each
        space has its figures (docs/metrics.md), ``days`` and weekly opening vs quota.

    Raises:
        LookupError: unknown site id. ValueError: naive datetimes.
    """
    cx = session.scalar(select(Complex).where(Complex.site_id == site_id))
    if cx is None:
        raise LookupError(f"no complex {site_id!r}")
    first, last = _range(cx, start, end)
    spaces = load_spaces(session, complex_ids=[cx.id])
    tz = next(iter(spaces.values())).tz if spaces else UTC
    if now is None:
        now = min(datetime.now(UTC), to_datetime(local_ms(tz, last, 0)))  # type: ignore[arg-type]
    if refresh and spaces and first < last:
        refresh_days(session, now, first, last - timedelta(days=1), complex_ids=[cx.id])
    rows = day_rows(session, list(spaces), first, last)
    out = [_space_json(s, rows.get(sid, []), first, last) for sid, s in spaces.items()]
    return {
        "complex": {"site": cx.site_id, "name": cx.name, "timezone": cx.timezone},
        "from": first.isoformat(),
        "to": last.isoformat(),
        "definitions": DEFINITIONS,
        "spaces": out,
        "totals": _totals(spaces, rows),
    }
