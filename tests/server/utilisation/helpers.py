"""Helpers for the utilisation tests: the shipped example complex and rows inserted directly
(door events, check-ins, votes), with times given as local Asia/Shanghai wall times."""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from facility_server.models import CheckIn, Complex, DoorCrossing, Space
from facility_server.satisfaction.models import SatisfactionVote
from facility_server.setup.importer import import_setup_text
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

SH = ZoneInfo("Asia/Shanghai")
EXAMPLE = Path(__file__).resolve().parents[3] / "server" / "examples" / "setup.yaml"
SITE = "xihu-beishan-shuguang"


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A Shanghai wall time as an aware datetime."""
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def ms(at: datetime) -> int:
    """Aware datetime -> UTC epoch ms."""
    return int(at.timestamp() * 1000)


def example(session: Session, site: str = SITE) -> tuple[Complex, dict[str, Space]]:
    """Import the shipped example complex (optionally under another site id); its spaces
    by code."""
    import_setup_text(session, EXAMPLE.read_text(encoding="utf-8").replace(SITE, site))
    cx = session.scalars(select(Complex).where(Complex.site_id == site)).one()
    spaces = {s.code: s for s in session.scalars(select(Space).where(Space.complex_id == cx.id))}
    return cx, spaces


def add_crossings(
    session: Session, space: Space, events: list[tuple[datetime, int, int]], device: str = "dc"
) -> None:
    """Door events (time, in, out) of a space."""
    rows = [
        {
            "event_id": uuid.uuid4().hex,
            "complex_id": space.complex_id,
            "space_id": space.id,
            "space_code": space.code,
            "device_code": device,
            "ts": at.astimezone(UTC),
            "people_in": n_in,
            "people_out": n_out,
            "received_at": at.astimezone(UTC),
        }
        for at, n_in, n_out in events
    ]
    if rows:
        session.execute(insert(DoorCrossing), rows)


def add_checkins(
    session: Session, space: Space, items: list[tuple[datetime, str]], checkpoint: str = "cp-any"
) -> None:
    """Accepted staff check-ins (time, task) in a space."""
    rows = [
        {
            "event_id": uuid.uuid4().hex,
            "complex_id": space.complex_id,
            "space_id": space.id,
            "space_code": space.code,
            "checkpoint_code": checkpoint,
            "device_code": "ci",
            "task": task,
            "method": "rfid",
            "proof": "badge",
            "badge": "04A23B1C",
            "staff_id": None,
            "accepted": True,
            "reject_reason": "",
            "clock": "synced",
            "ts": at.astimezone(UTC),
            "ts_ms": ms(at),
            "received_ms": ms(at),
        }
        for at, task in items
    ]
    if rows:
        session.execute(insert(CheckIn), rows)


def add_votes(session: Session, space: Space, at: datetime, counts: dict[str, int]) -> None:
    """Satisfaction votes of a space, all at ``at``."""
    rows = [
        {
            "event_id": uuid.uuid4().hex,
            "complex_id": space.complex_id,
            "space_id": space.id,
            "space_code": space.code,
            "device_code": "sat",
            "rating": rating,
            "clock": "synced",
            "ts": at.astimezone(UTC),
            "ts_ms": ms(at),
            "received_at": at.astimezone(UTC),
        }
        for rating, n in counts.items()
        for _ in range(n)
    ]
    session.execute(insert(SatisfactionVote), rows)


def csv_in_per_day(path: Path) -> tuple[Counter[date], Counter[date]]:
    """People in and out per local date of the CalIt2 file, read with the csv module."""
    ins: Counter[date] = Counter()
    outs: Counter[date] = Counter()
    with open(path, newline="") as handle:
        for row in csv.reader(handle):
            if not row:
                continue
            flow, day, _clock, count = row
            d = datetime.strptime(day, "%m/%d/%y").replace(tzinfo=SH).date()
            (ins if flow == "9" else outs)[d] += int(count)
    return ins, outs
