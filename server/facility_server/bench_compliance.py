"""Benchmark of compliance at city scale: 3,000 complexes x 10 task rules with a day of
check-ins (issue 5: one evaluation tick <= 2 s).

:func:`run` migrates ``db_url``, registers the city in bulk (the API benchmark's 3,000
complexes x 12 spaces), gives every complex a check-in terminal, staff, checkpoints and
ten rules (four daily disinfections, two patrols, four quotas), stores two days of
check-ins in arrival order, as a server stores them (about 50 per complex and day; 3 %
left out so some tasks are missed), then times ticks at 18:00 local on a Tuesday, when
every round of the day is decided:

- ``tick_first_s`` (its CPU time ``tick_first_cpu_s``): the first tick of a new process
  (new engine, every cache empty) with nothing stored for the day: it loads every rule
  and the day's check-ins, evaluates all 66,000 occurrences, writes them all and opens
  about 4,600 "missed" alerts. The slowest tick: a server's first start, or a server
  that was down all day;
- ``tick_restart_s``: a new process's first tick when the day is already stored: it
  evaluates everything again and compares it with the stored rows, writing nothing;
- ``tick_warm_s``: the same process's next tick a minute later (its memo skips the
  comparison with the database);
- ``tick_s``: the slowest of the three, the figure the 2 s target applies to.

Each is the best of ``repeats`` runs; before each run the occurrences and task alerts are
deleted (and, on PostgreSQL, vacuumed away). The machine may be busy (other processes,
few CPUs), so each run also measures ``floor_s``, a fixed pure-Python loop, just before
its first tick; ``tick_floor_ratio`` = best first tick / best floor is comparable across
machines and loads; ``load_avg`` is the 1-minute load average before and after.
``checkins_per_s``: check-ins through ``store_event`` (stored, then the space's rules
re-evaluated on arrival), one transaction each.
"""

from __future__ import annotations

import gc
import json
import os
import random
import time
import timeit
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from facility_contracts.envelope import CheckIn as CheckInEvent
from facility_contracts.envelope import CheckInBody
from facility_contracts.topics import Topic
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from facility_server.bench_api import register_city
from facility_server.compliance.rules import parse_rule, rule_params
from facility_server.compliance.store import Memo
from facility_server.compliance.tick import TickReport, clear_caches, compliance_tick
from facility_server.core.db import make_engine, session_factory
from facility_server.core.migrate import upgrade
from facility_server.ingest.store import store_event
from facility_server.models import (
    Alert,
    Badge,
    CheckIn,
    Checkpoint,
    Complex,
    Device,
    Space,
    Staff,
    TaskOccurrence,
    TaskRule,
)

SHAPE = (10, 10, 30)
#: Turns of the floor's loop (about 0.1 s on one core of a 2020s machine).
FLOOR_LOOPS = 1_000_000
#: Tuesday 2026-06-02, 18:00 Asia/Shanghai: every round of the day has been decided.
DAY = date(2026, 6, 2)
BADGE = "0BE0C0DE"
KIDS = ["gate", "slide", "sandpit", "toys"]
CHILD = ["desk", "yard"]
#: (code, space index in bench_api's 12 spaces, params): 10 rules per complex.
RULES: list[tuple[str, int, dict[str, Any]]] = [
    ("kids-disinfection", 10, {"kind": "daily", "task": "disinfection", "start": "06:00"}),
    ("infant-disinfection", 2, {"kind": "daily", "task": "disinfection", "start": "06:00"}),
    ("meal-disinfection", 1, {"kind": "daily", "task": "disinfection", "start": "06:00"}),
    ("care-disinfection", 0, {"kind": "daily", "task": "disinfection", "start": "06:00"}),
    ("kids-patrol", 10, {"kind": "patrol", "every_min": 60, "window_min": 20, "checkpoints": KIDS}),
    (
        "child-patrol",
        3,
        {"kind": "patrol", "every_min": 120, "window_min": 30, "checkpoints": CHILD},
    ),
    ("fitness-maintenance", 8, {"kind": "quota", "task": "maintenance", "period": "week"}),
    ("health-lecture", 0, {"kind": "quota", "task": "activity", "period": "month"}),
    ("sports-events", 8, {"kind": "quota", "task": "activity", "period": "year", "count": 4}),
    ("job-events", 4, {"kind": "quota", "task": "activity", "period": "year", "count": 2}),
]


def _at(hh: int, mm: int, day: date = DAY) -> int:
    """UTC ms of ``day`` at local hh:mm (Asia/Shanghai, UTC+8)."""
    local = datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - timedelta(hours=8)
    return int(local.timestamp() * 1000)


def _equip(session: Session, complex_ids: list[int], now: datetime) -> dict[int, list[int]]:
    """Terminal, staff, badge, checkpoints and rules per complex; return space ids."""
    spaces: dict[int, list[int]] = {}
    for cid, sid in session.execute(
        select(Space.complex_id, Space.id)
        .where(Space.complex_id.in_(complex_ids))
        .order_by(Space.id)
    ):
        spaces.setdefault(cid, []).append(sid)
    _people(session, complex_ids, now)
    _rules(session, complex_ids, spaces, now)
    return spaces


def _people(session: Session, complex_ids: list[int], now: datetime) -> None:
    """An online check-in terminal, one staff member and a badge per complex."""
    seen = now - timedelta(seconds=10)
    session.execute(insert(Device), [
        {"complex_id": c, "code": "ci", "name": "", "kind": "checkin_terminal", "transport": "mqtt",
         "firmware": "", "state": "online", "last_seen": seen, "heartbeat_s": 30.0,
         "health": "online", "health_since": now - timedelta(days=2), "created_at": now}
        for c in complex_ids
    ])  # fmt: skip
    session.execute(insert(Staff), [{"complex_id": c, "code": "s1", "name": "巡查员", "duty": "",
                                     "active": True} for c in complex_ids])  # fmt: skip
    staff = dict(
        session.execute(
            select(Staff.complex_id, Staff.id).where(Staff.complex_id.in_(complex_ids))
        ).all()
    )
    session.execute(
        insert(Badge), [{"complex_id": c, "staff_id": staff[c], "uid": BADGE} for c in complex_ids]
    )


def _rules(
    session: Session, complex_ids: list[int], spaces: dict[int, list[int]], now: datetime
) -> None:
    """Checkpoints and the ten rules (validated, stored as the setup import stores them)."""
    cps = [
        (10, KIDS),
        (3, CHILD),
        (8, ["equip"]),
        (0, ["hall"]),
        (1, ["kitchen"]),
        (2, ["room"]),
        (4, ["desk4"]),
    ]
    session.execute(insert(Checkpoint), [
        {"complex_id": c, "space_id": spaces[c][k], "code": code, "name": "", "tag_kind": "qr",
         "tag": f"QR-{code}"}
        for c in complex_ids for k, codes in cps for code in codes
    ])  # fmt: skip
    parsed = [(code, k, parse_rule(p)) for code, k, p in RULES]
    rows = [
        {"complex_id": c, "space_id": spaces[c][k], "code": code, "name": "", "kind": r.kind,
         "task": r.task, "params": rule_params(r), "enabled": True,
         "created_at": now - timedelta(days=365)}
        for c in complex_ids for code, k, r in parsed
    ]  # fmt: skip
    for i in range(0, len(rows), 5000):
        session.execute(insert(TaskRule), rows[i : i + 5000])


def _day(rng: random.Random, cid: int, spaces: list[int], day: date) -> list[dict[str, Any]]:
    """About 50 check-ins of one complex's ``day``, 3 % left out."""
    plan: list[tuple[int, str, str, int]] = []
    for k, cp in ((10, "gate"), (2, "room"), (1, "kitchen"), (0, "hall")):
        plan.append((spaces[k], cp, "disinfection", _at(8, rng.randrange(0, 50), day)))
    for hh in range(9, 18):
        plan += [(spaces[10], cp, "patrol", _at(hh, 2 + i, day)) for i, cp in enumerate(KIDS)]
    for hh in range(9, 18, 2):
        plan += [(spaces[3], cp, "patrol", _at(hh, 5 + i, day)) for i, cp in enumerate(CHILD)]
    if day == DAY:
        plan.append((spaces[8], "equip", "maintenance", _at(10, 30, day)))
        plan.append((spaces[0], "hall", "activity", _at(14, 0, day)))
    return [
        {"event_id": uuid.uuid4().hex, "complex_id": cid, "space_id": sid, "space_code": "",
         "checkpoint_code": cp, "device_code": "ci", "task": task, "method": "qr",
         "proof": "rotating_qr", "badge": BADGE, "staff_id": None, "accepted": True,
         "reject_reason": "", "clock": "synced",
         "ts": datetime.fromtimestamp(at / 1000, UTC), "ts_ms": at, "received_ms": at + 500}
        for sid, cp, task, at in plan
        if rng.random() >= 0.03
    ]  # fmt: skip


def _arrivals(
    rng: random.Random, sites: list[tuple[str, int]], n: int
) -> list[tuple[Topic, CheckInEvent]]:
    out = []
    for i in range(n):
        site, _ = rng.choice(sites)
        ts = _at(17, 30) + i
        body = CheckInBody(badge=BADGE, checkpoint=rng.choice(KIDS), space="sp10", task="patrol",
                           method="qr", proof="rotating_qr")  # fmt: skip
        event = CheckInEvent(id=uuid.uuid4().hex, device="ci", boot="bench", seq=i + 1, ts=ts,
                             mono=i, synced=True, body=body)  # fmt: skip
        out.append((Topic(site, "ci", "evt"), event))
    return out


def run(
    db_url: str,
    shape: tuple[int, int, int] = SHAPE,
    arrivals: int = 300,
    seed: int = 1,
    repeats: int = 3,
) -> dict[str, Any]:
    """Register the city in ``db_url`` and time the compliance tick and on-arrival evaluation.

    Args:
        db_url: a database URL (migrated here); an empty database is best.
        shape: districts, streets per district, communities per street (one complex each).
        arrivals: check-ins sent through ``store_event`` for ``checkins_per_s``.
        seed: the random choices (left-out check-ins, arriving complexes).
        repeats: runs of the three ticks; each figure is the best run.

    Returns:
        ``{"tick_s", "tick_first_s", "tick_first_cpu_s", "tick_restart_s", "tick_warm_s",
        "floor_s", "tick_floor_ratio", "load_avg", "cpus", "repeats", "runs",
        "checkins_per_s", "complexes", "rules", "checkins", "occurrences", "alerts",
        "backend"}`` (see the module docstring; ``runs``: [first, warm, restart, floor]
        of each run); times in s, rate in check-ins per s.
    """
    upgrade(db_url)
    engine = make_engine(db_url)
    factory = session_factory(engine)
    rng = random.Random(seed)
    now = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)  # 18:00 local
    complex_ids, sites, checkins = _build(factory, rng, now, shape)
    if engine.dialect.name == "postgresql":  # fresh statistics, as autovacuum would gather
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    load_before = os.getloadavg()[0]
    figures = _ticks(db_url, now, repeats, complex_ids)
    events = _arrivals(rng, sites, arrivals)
    start = time.perf_counter()
    for topic, event in events:
        with factory() as session:
            store_event(session, topic, event, now + timedelta(minutes=2))
            session.commit()
    per_s = arrivals / (time.perf_counter() - start)
    with factory() as session:
        alerts = len(session.scalars(select(Alert.id).where(Alert.kind == "task_missed")).all())
    engine.dispose()
    return {
        **figures,
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
        "checkins_per_s": round(per_s, 1),
        "complexes": len(complex_ids),
        "rules": len(complex_ids) * len(RULES),
        "checkins": checkins,
        "alerts": alerts,
        "backend": engine.dialect.name,
    }


def _build(
    factory: sessionmaker[Session], rng: random.Random, now: datetime, shape: tuple[int, int, int]
) -> tuple[list[int], list[tuple[str, int]], int]:
    """The equipped city and two days of check-ins; (complex ids, sites, check-ins)."""
    with factory() as session:
        complex_ids, _, _ = register_city(session, now, shape)
        complex_ids = sorted(complex_ids)  # registration order: the same data on every backend
        spaces = _equip(session, complex_ids, now)
        days = (DAY - timedelta(days=1), DAY)  # yesterday too: arrivals re-evaluate it
        rows = [r for d in days for c in complex_ids for r in _day(rng, c, spaces[c], d)]
        rows.sort(key=lambda r: (r["received_ms"], r["complex_id"]))  # stored as they arrive
        for i in range(0, len(rows), 5000):
            session.execute(insert(CheckIn), rows[i : i + 5000])
        sites = session.execute(
            select(Complex.site_id, Complex.id)
            .where(Complex.id.in_(complex_ids))
            .order_by(Complex.id)  # the same arrivals on every backend
        ).all()
        session.commit()
    return complex_ids, [(site, cid) for site, cid in sites], len(rows)


def python_floor_s(n: int = FLOOR_LOOPS) -> float:
    """The floor: seconds for ``n`` turns of a plain Python loop that builds tuples and
    stores them in a dict (the tick's kind of work), best of three."""

    def loop() -> int:
        seen: dict[tuple[int, str], tuple[int, int]] = {}
        for i in range(n):
            seen[(i & 4095, "k")] = (i, i + 1)
        return len(seen)

    return min(timeit.repeat(loop, number=1, repeat=3))


def _ticks(db_url: str, now: datetime, repeats: int, complex_ids: list[int]) -> dict[str, Any]:
    """The best of ``repeats`` runs of: a new process's first tick, its next tick a minute
    later, and another new process's first tick with the day stored."""
    runs = []
    for _ in range(max(1, repeats)):
        _reset(db_url, complex_ids)
        floor = python_floor_s()
        with _process(db_url) as engine:
            first, first_cpu, report = _timed(engine, now, memo := Memo())
            warm, _, _ = _timed(engine, now + timedelta(minutes=1), memo)
        with _process(db_url) as engine:
            restart, _, _ = _timed(engine, now + timedelta(minutes=2), Memo())
        runs.append(tuple(round(x, 4) for x in (first, first_cpu, warm, restart, floor)))
    first, first_cpu, warm, restart, floor = (min(r[i] for r in runs) for i in range(5))
    return {
        "tick_s": round(max(first, warm, restart), 3),
        "tick_first_s": round(first, 3),
        "tick_first_cpu_s": round(first_cpu, 3),
        "tick_restart_s": round(restart, 3),
        "tick_warm_s": round(warm, 3),
        "floor_s": round(floor, 4),
        "tick_floor_ratio": round(first / floor, 2),
        "repeats": len(runs),
        "runs": [[r[0], r[2], r[3], r[4]] for r in runs],
        "occurrences": report.written,
    }


@contextmanager
def _process(db_url: str) -> Iterator[Engine]:
    """What a newly started server process has: a new engine (empty statement cache),
    every engine cache empty, a clean heap."""
    clear_caches()
    gc.collect()
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _timed(engine: Engine, at: datetime, memo: Memo) -> tuple[float, float, TickReport]:
    """One tick at ``at`` and its commit, on a connected session: (wall s, CPU s, report)."""
    with session_factory(engine)() as session:
        session.connection()  # connected before, as a running server is
        start, cpu = time.perf_counter(), time.process_time()
        report = compliance_tick(session, at, memo=memo)
        session.commit()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    memo.accept()
    return wall, cpu, report


def _reset(db_url: str, complex_ids: list[int]) -> None:
    """No occurrences and no task alerts in the bench's complexes (the state before the
    day's first tick); on PostgreSQL also vacuumed, so the next insert meets no dead index
    entries."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            for i in range(0, len(complex_ids), 5000):
                ids = complex_ids[i : i + 5000]
                conn.execute(delete(TaskOccurrence).where(TaskOccurrence.complex_id.in_(ids)))
                conn.execute(
                    delete(Alert).where(Alert.kind == "task_missed", Alert.complex_id.in_(ids))
                )
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE task_occurrences, alerts")
    finally:
        engine.dispose()


if (
    __name__ == "__main__"
):  # pragma: no cover - manual use: python -m facility_server.bench_compliance URL
    import sys

    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///bench-compliance.db")))
