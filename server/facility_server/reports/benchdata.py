"""Synthetic data for the report benchmark (:mod:`facility_server.bench_report`).

One district of N complexes (12 spaces each, 4+5+X) with a half year of data: hourly and
daily utilisation aggregates of every space, activity and maintenance check-ins,
disinfection and patrol occurrences, satisfaction votes. Rows are loaded with the
driver's bulk paths (``executemany`` on SQLite, ``COPY`` on PostgreSQL).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select

from facility_server.compliance.calendar import local_ms
from facility_server.core.db import make_engine, session_factory
from facility_server.core.migrate import upgrade
from facility_server.domain import SpaceType
from facility_server.models import CheckIn, Complex, Region, Space, TaskRule
from facility_server.opening import local_intervals, parse_weekly
from facility_server.utilisation.periods import parse_period

TZ = ZoneInfo("Asia/Shanghai")


def _cols(text: str) -> tuple[str, ...]:
    """Column names from a space-separated list."""
    return tuple(text.split())


HOURS = {d: ["09:00-12:00", "13:30-20:30"] for d in ("tue", "wed", "thu", "fri", "sat", "sun")}
WEEKDAY_HOURS = {d: ["08:00-11:30", "13:30-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
RATINGS = ("very_satisfied", "satisfied", "dissatisfied", "very_dissatisfied")
_HOUR_COLS = _cols(
    "space_id start_ms complex_id day visits exits peak clamped open_min occupied_min person_min"
)
_DAY_COLS = _cols(
    "space_id day complex_id visits exits peak clamped drift open_min occupied_min "
    "person_min actual_open_min evidence first_ms last_ms updated_ms"
)
_OCC_COLS = _cols(
    "rule_id complex_id space_id key day state start_ms deadline_ms alert_ms until_ms "
    "done_ms reported_ms done_count needed_count satisfied_by missing reason digest "
    "updated_ms"
)
_VOTE_COLS = _cols(
    "event_id complex_id space_id space_code device_code rating clock ts ts_ms received_at"
)


def _bulk(engine: Engine, table: str, cols: Sequence[str], rows: Iterator[tuple[Any, ...]]) -> int:
    """Load rows fast: COPY on PostgreSQL, executemany on SQLite."""
    n = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
                    n += 1
        else:
            marks = ", ".join("?" * len(cols))
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"  # noqa: S608 - fixed names
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(tuple(_sqlite(v) for v in row))
                if len(batch) >= 50_000:
                    cur.executemany(sql, batch)
                    n, batch = n + len(batch), []
            cur.executemany(sql, batch)
            n += len(batch)
        raw.commit()
    finally:
        raw.close()
    return n


def _sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _insert(s: Any, model: Any, **values: Any) -> int:
    """Insert one row; its id."""
    return int(s.scalar(insert(model).values(**values).returning(model.id)))


def _complexes(s: Any, complexes: int, tag: str, now: datetime) -> list[int]:
    """The region tree (one district, 10 streets, a community each) and the complexes."""
    did = _insert(s, Region, kind="district", code=tag, name="基准区", path=tag, created_at=now)
    streets = [
        _insert(
            s,
            Region,
            kind="street",
            code=f"s{k}",
            name=f"街道{k}",
            parent_id=did,
            path=f"{tag}/s{k}",
            created_at=now,
        )
        for k in range(min(10, complexes))
    ]
    ids = []
    for i in range(complexes):
        sid = streets[i % len(streets)]
        cid = _insert(
            s,
            Region,
            kind="community",
            code=f"c{i}",
            name=f"社区{i}",
            parent_id=sid,
            path=f"{tag}/s{i % len(streets)}/c{i}",
            created_at=now,
        )
        ids.append(
            _insert(
                s,
                Complex,
                site_id=f"{tag}-{i}",
                name=f"综合体{i}",
                timezone="Asia/Shanghai",
                community_id=cid,
                street_id=sid,
                district_id=did,
                public_holidays="closed",
                makeup_workdays="regular",
                created_at=now,
                updated_at=now,
            )
        )
    return ids


def _registry(engine: Engine, complexes: int, tag: str, now: datetime) -> dict[str, Any]:
    """One district of ``complexes`` complexes with 12 spaces each and task rules."""
    with session_factory(engine)() as s:
        cx_ids = _complexes(s, complexes, tag, now)
        s.execute(
            insert(Space),
            [
                {
                    "complex_id": c,
                    "code": t.value.replace("_", "-"),
                    "name": t.value,
                    "type": t.value,
                    "capacity": 30,
                    "created_at": now,
                    "weekly_hours": HOURS if t.value == "culture" else WEEKDAY_HOURS,
                }
                for c in cx_ids
                for t in SpaceType
            ],
        )
        _rules(s, cx_ids, now)
        s.commit()
        cols = (Space.id, Space.complex_id, Space.type, Space.code, Space.weekly_hours)
        spaces = [tuple(r) for r in s.execute(select(*cols).where(Space.complex_id.in_(cx_ids)))]
        rules = {
            (r.space_id, r.task): r.id
            for r in s.scalars(select(TaskRule).where(TaskRule.complex_id.in_(cx_ids)))
        }
    return {
        "district": tag,
        "complexes": cx_ids,
        "spaces": spaces,
        "rules": rules,
        "site": f"{tag}-0",
    }


def _rules(s: Any, cx_ids: list[int], now: datetime) -> None:
    rows = []
    stmt = select(Space.id, Space.complex_id, Space.type).where(Space.complex_id.in_(cx_ids))
    for sid, cid, type_ in s.execute(stmt):
        if type_ == "kids_play":
            rows += [
                {
                    "complex_id": cid,
                    "space_id": sid,
                    "code": "kids-disinfection",
                    "kind": "daily",
                    "task": "disinfection",
                    "params": {"kind": "daily", "task": "disinfection"},
                },
                {
                    "complex_id": cid,
                    "space_id": sid,
                    "code": "kids-patrol",
                    "kind": "patrol",
                    "task": "patrol",
                    "params": {
                        "kind": "patrol",
                        "task": "patrol",
                        "every_min": 60,
                        "window_min": 20,
                        "grace_min": 10,
                        "checkpoints": ["cp-a"],
                    },
                },
            ]
        elif type_ == "fitness":
            rows.append(
                {
                    "complex_id": cid,
                    "space_id": sid,
                    "code": "fitness-maintenance",
                    "kind": "quota",
                    "task": "maintenance",
                    "params": {
                        "kind": "quota",
                        "task": "maintenance",
                        "period": "week",
                        "count": 1,
                    },
                }
            )
    for r in rows:
        r.update(name=r["code"], enabled=True, created_at=now)
    s.execute(insert(TaskRule), rows)


def _open(
    weekly: dict[str, list[str]], days: list[date]
) -> dict[date, tuple[tuple[int, int], ...]]:
    from facility_server.opening import Schedule

    schedule = Schedule(tz=TZ, weekly=parse_weekly(weekly))
    return {d: local_intervals(schedule, d) for d in days}


def _hours(
    world: dict[str, Any], days: list[date], rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    """One row per open local hour of every space."""
    for sid, cid, _type, _code, weekly in world["spaces"]:
        for day, ivs in _open(weekly, days).items():
            for start, end in ivs:
                for h in range(start // 60, (end + 59) // 60):
                    open_min = float(min(end, h * 60 + 60) - max(start, h * 60))
                    visits = rng.randint(0, 12)
                    occ = min(open_min, float(rng.randint(0, 60)))
                    yield (
                        sid,
                        local_ms(TZ, day, h * 60),
                        cid,
                        day,
                        visits,
                        visits,
                        visits // 2,
                        0,
                        open_min,
                        occ,
                        occ * rng.random() * 5,
                    )


def _days(
    world: dict[str, Any], days: list[date], rng: random.Random, now_ms: int
) -> Iterator[tuple[Any, ...]]:
    for sid, cid, _type, _code, weekly in world["spaces"]:
        for day, ivs in _open(weekly, days).items():
            open_min = float(sum(e - s for s, e in ivs))
            occ = open_min * rng.random()
            visits = int(open_min / 60 * 6)
            actual = open_min if rng.random() > 0.03 else 0.0
            yield (
                sid,
                day,
                cid,
                visits,
                visits,
                visits // 3,
                0,
                rng.randint(0, 2),
                open_min,
                occ,
                occ * 3,
                actual,
                "door" if actual else "none",
                None,
                None,
                now_ms,
            )


def _occurrences(
    world: dict[str, Any], days: list[date], rng: random.Random, now_ms: int
) -> Iterator[tuple[Any, ...]]:
    states = ("on_time",) * 18 + ("late", "missed")
    for sid, cid, type_, _code, weekly in world["spaces"]:
        if type_ != "kids_play":
            continue
        daily, patrol = world["rules"][(sid, "disinfection")], world["rules"][(sid, "patrol")]
        for day, ivs in _open(weekly, days).items():
            if not ivs:
                continue
            at = local_ms(TZ, day, ivs[0][0])
            yield (
                daily,
                cid,
                sid,
                day.isoformat(),
                day,
                rng.choice(states),
                at - 3_600_000,
                at,
                at,
                at,
                at - 60_000,
                at,
                1,
                1,
                "[]",
                "[]",
                "",
                "d",
                now_ms,
            )
            for start, end in ivs:
                for m in range(start, end, 60):
                    t = local_ms(TZ, day, m)
                    yield (
                        patrol,
                        cid,
                        sid,
                        f"{day.isoformat()}T{m // 60:02d}:{m % 60:02d}",
                        day,
                        rng.choice(states),
                        t,
                        t + 1_200_000,
                        t + 1_800_000,
                        t + 3_600_000,
                        t + 600_000,
                        t + 600_000,
                        1,
                        1,
                        "[]",
                        "[]",
                        "",
                        "p",
                        now_ms,
                    )


def _votes(world: dict[str, Any], period: Any, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    lo, hi = period.start_ms(TZ), period.end_ms(TZ)
    for sid, cid, type_, code, _weekly in world["spaces"]:
        if type_ not in ("elderly_meal", "health", "culture", "kids_play"):
            continue
        weights = (5, 3, 1, 1) if rng.random() > 0.1 else (1, 2, 3, 2)
        for _ in range(100):
            ts_ms = rng.randrange(lo, hi)
            ts = datetime.fromtimestamp(ts_ms / 1000, UTC)
            yield (
                uuid.uuid4().hex,
                cid,
                sid,
                code,
                f"sat-{code}",
                rng.choices(RATINGS, weights=weights)[0],
                "synced",
                ts,
                ts_ms,
                ts,
            )


def _checkins(engine: Engine, world: dict[str, Any], days: list[date], rng: random.Random) -> None:
    plan = {"elderly_care": ("activity", 30), "aid": ("activity", 120), "fitness": None}
    rows = []
    for sid, cid, type_, code, _weekly in world["spaces"]:
        if type_ not in plan:
            continue
        tasks = [("maintenance", 7), ("activity", 60)] if type_ == "fitness" else [plan[type_]]
        for task, every in tasks:  # type: ignore[misc]
            for k in range(0, len(days), every):
                ts_ms = local_ms(TZ, days[k], 600 + rng.randint(0, 300))
                ts = datetime.fromtimestamp(ts_ms / 1000, UTC)
                rows.append(
                    {
                        "event_id": uuid.uuid4().hex,
                        "complex_id": cid,
                        "space_id": sid,
                        "space_code": code,
                        "checkpoint_code": "cp-a",
                        "device_code": "ci",
                        "task": task,
                        "method": "rfid",
                        "proof": "badge",
                        "badge": "04A1B2C3",
                        "staff_id": None,
                        "accepted": True,
                        "reject_reason": "",
                        "clock": "synced",
                        "ts": ts,
                        "ts_ms": ts_ms,
                        "received_ms": ts_ms,
                    }
                )
    with session_factory(engine)() as s:
        s.execute(insert(CheckIn), rows)
        s.commit()


def load(
    db_url: str, *, complexes: int = 300, period: str = "2026H1", seed: int = 1, hourly: bool = True
) -> dict[str, Any]:
    """Migrate and fill the database (not timed); returns the world's ids and row counts."""
    upgrade(db_url)
    engine = make_engine(db_url)
    rng = random.Random(seed)
    p = parse_period(period)
    days = list(p.dates())
    now = datetime(2026, 7, 1, tzinfo=UTC)
    now_ms = int(now.timestamp() * 1000)
    tag = "bench" + uuid.uuid4().hex[:6]
    world = _registry(engine, complexes, tag, now)
    counts = {"complexes": complexes, "spaces": len(world["spaces"])}
    if hourly:
        counts["hour_rows"] = _bulk(
            engine, "utilisation_hours", _HOUR_COLS, _hours(world, days, rng)
        )
    counts["day_rows"] = _bulk(
        engine, "utilisation_days", _DAY_COLS, _days(world, days, rng, now_ms)
    )
    counts["occurrences"] = _bulk(
        engine, "task_occurrences", _OCC_COLS, _occurrences(world, days, rng, now_ms)
    )
    counts["votes"] = _bulk(engine, "satisfaction_votes", _VOTE_COLS, _votes(world, p, rng))
    _checkins(engine, world, days, rng)
    engine.dispose()
    return {"world": world, "counts": counts, "period": p}
