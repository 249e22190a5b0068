"""Load what utilisation needs from the database: spaces with schedules and places,
door events and opening/closing check-ins (plain Core selects, batched by space)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.models import CalendarException, CheckIn, Complex, DoorCrossing, Region, Space
from facility_server.opening import Schedule
from facility_server.schedules import schedule_for
from facility_server.utilisation.occupancy import Crossing

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BATCH = 500


@dataclass(frozen=True, slots=True)
class SpaceRef:
    """A space, its schedule and where it sits (region paths for series tags)."""

    id: int
    code: str
    name: str
    type: str
    capacity: int
    complex_id: int
    site_id: str
    complex_name: str
    street: str
    district: str
    street_name: str
    district_name: str
    schedule: Schedule

    @property
    def tz(self) -> ZoneInfo:
        """The complex's zone."""
        return self.schedule.tz


def load_spaces(
    session: Session,
    *,
    complex_ids: Iterable[int] | None = None,
    space_ids: Iterable[int] | None = None,
) -> dict[int, SpaceRef]:
    """Spaces (all, of some complexes, or some ids) with their schedules, by id."""
    stmt = select(Space, Complex).join(Complex, Complex.id == Space.complex_id)
    if complex_ids is not None:
        stmt = stmt.where(Space.complex_id.in_(list(complex_ids)))
    if space_ids is not None:
        stmt = stmt.where(Space.id.in_(list(space_ids)))
    rows = session.execute(stmt.order_by(Space.complex_id, Space.id)).all()
    cids = {cx.id for _, cx in rows}
    exceptions: dict[int, list[CalendarException]] = defaultdict(list)
    for exc in session.scalars(
        select(CalendarException).where(CalendarException.complex_id.in_(cids))
    ):
        exceptions[exc.complex_id].append(exc)
    regions = {
        rid: (path, name)
        for rid, path, name in session.execute(select(Region.id, Region.path, Region.name))
    }
    out = {}
    for space, cx in rows:
        street, district = (
            regions.get(cx.street_id, ("", "")),
            regions.get(cx.district_id, ("", "")),
        )
        out[space.id] = SpaceRef(
            space.id,
            space.code,
            space.name,
            space.type,
            space.capacity,
            cx.id,
            cx.site_id,
            cx.name,
            street[0],
            district[0],
            street[1],
            district[1],
            schedule_for(cx, space, exceptions.get(cx.id, ())),
        )
    return out


def to_datetime(ms: int) -> datetime:
    """UTC ms -> aware UTC datetime."""
    return _EPOCH + timedelta(milliseconds=ms)


def to_ms(at: datetime) -> int:
    """Aware datetime -> UTC ms."""
    return (at - _EPOCH) // timedelta(milliseconds=1)


def load_crossings(
    session: Session, space_ids: Iterable[int], lo_ms: int, hi_ms: int
) -> dict[int, list[Crossing]]:
    """Door events of the spaces with ``lo_ms <= ts < hi_ms``, per space, in time order."""
    ids = list(space_ids)
    out: dict[int, list[Crossing]] = defaultdict(list)
    lo, hi = to_datetime(lo_ms), to_datetime(hi_ms)
    for i in range(0, len(ids), _BATCH):
        stmt = (
            select(
                DoorCrossing.space_id,
                DoorCrossing.ts,
                DoorCrossing.people_in,
                DoorCrossing.people_out,
            )
            .where(
                DoorCrossing.space_id.in_(ids[i : i + _BATCH]),
                DoorCrossing.ts >= lo,
                DoorCrossing.ts < hi,
            )
            .order_by(DoorCrossing.ts, DoorCrossing.id)
        )
        for sid, ts, n_in, n_out in session.execute(stmt):
            out[sid].append(Crossing(to_ms(ts), n_in, n_out))
    return out


def load_marks(
    session: Session, space_ids: Iterable[int], lo_ms: int, hi_ms: int
) -> dict[int, list[tuple[int, str]]]:
    """Accepted ``opening``/``closing`` check-ins of the spaces in ``[lo_ms, hi_ms)``:
    (UTC ms, task) per space, in time order."""
    ids = list(space_ids)
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for i in range(0, len(ids), _BATCH):
        stmt = (
            select(CheckIn.space_id, CheckIn.ts_ms, CheckIn.task)
            .where(
                CheckIn.space_id.in_(ids[i : i + _BATCH]),
                CheckIn.accepted,
                CheckIn.task.in_(("opening", "closing")),
                CheckIn.ts_ms >= lo_ms,
                CheckIn.ts_ms < hi_ms,
            )
            .order_by(CheckIn.ts_ms, CheckIn.id)
        )
        for sid, ts_ms, task in session.execute(stmt):
            out[sid].append((ts_ms, task))
    return out
