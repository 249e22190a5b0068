"""CalIt2 replayed as one space's door counter: visits per day, occupancy never negative,
reset at the space's closing time in its own zone (not UTC midnight)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from facility_server.opening import Schedule, parse_weekly
from facility_server.utilisation.load import SpaceRef
from facility_server.utilisation.occupancy import (
    Crossing,
    hour_bounds,
    open_ranges,
    reset_instants,
    track,
)
from facility_server.utilisation.refresh import compute, refresh_days
from facility_server.utilisation.summary import day_rows
from facility_sim import calit2
from sqlalchemy.orm import Session, sessionmaker

from .helpers import SH, add_crossings, csv_in_per_day, example, local

EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOSE_H = 19  # the space closes at 19:00 Shanghai time = 11:00 UTC


def _space(hours: str = f"07:00-{CLOSE_H}:00") -> SpaceRef:
    schedule = Schedule(
        tz=SH, weekly=parse_weekly({d: [hours] for d in EVERY_DAY}), day_kind=lambda _d: "normal"
    )
    return SpaceRef(1, "hall", "hall", "culture", 80, 1, "s", "s", "", "", "", "", schedule)


@pytest.fixture(scope="module")
def replay(calit2_path: Path) -> list[Crossing]:
    """Every person of the file as one crossing event (the simulator's spreading)."""
    slots = calit2.load(calit2_path, SH)
    return [
        Crossing(c.utc_ms, int(c.direction == "in"), int(c.direction == "out"))
        for c in calit2.crossings(slots)
    ]


def _whole_file(replay: list[Crossing]) -> tuple[list[dict], list[dict]]:
    return compute(
        _space(),
        replay,
        [],
        date(2005, 7, 24),
        date(2005, 11, 5),
        int(datetime(2006, 1, 1, tzinfo=UTC).timestamp() * 1000),
    )


def test_visits_per_day_equal_the_files_in_counts(replay, calit2_path: Path) -> None:
    """Visits (and exits) per local day equal the file's "in" ("out") counts per day."""
    ins, outs = csv_in_per_day(calit2_path)
    _, days = _whole_file(replay)
    assert {d["day"]: d["visits"] for d in days} == dict(ins)
    assert {d["day"]: d["exits"] for d in days} == dict(outs)
    assert sum(ins.values()) == 19_597


def test_occupancy_is_never_negative_and_clamping_is_flagged(replay) -> None:
    """Occupancy never drops below zero; the people clamped are counted as an anomaly."""
    space = _space()
    first, end = date(2005, 7, 24), date(2005, 11, 6)
    days = [first + timedelta(days=k) for k in range((end - first).days)]
    result = track(
        replay,
        bounds=hour_bounds(SH, first, end),
        resets=list(reset_instants(space.schedule, days).values()),
        opens=open_ranges(space.schedule, days),
    )
    assert min(level for _, level in result.steps) == 0
    assert result.min_occupancy == 0
    expected_clamped = 0
    level = 0
    resets = sorted(reset_instants(space.schedule, days).values())
    for c in sorted(replay, key=lambda c: c.ts_ms):  # stable: in before out
        while resets and resets[0] <= c.ts_ms:
            level = 0
            resets.pop(0)
        level += c.people_in - c.people_out
        if level < 0:
            expected_clamped, level = expected_clamped - level, 0
    assert sum(b.clamped for b in result.buckets) == expected_clamped > 0


def test_reset_happens_at_local_closing_not_utc_midnight(replay) -> None:
    """Drift per day is the occupancy just before 19:00 Shanghai time; nothing resets at
    UTC midnight (08:00 local), computed here by an independent loop."""
    _, days = _whole_file(replay)
    drift: dict[date, int] = {}
    level, events = 0, sorted(replay, key=lambda c: c.ts_ms)
    day = date(2005, 7, 24)
    i = 0
    while day <= date(2005, 11, 5):
        close = int(datetime(day.year, day.month, day.day, CLOSE_H, tzinfo=SH).timestamp() * 1000)
        while i < len(events) and events[i].ts_ms < close:
            level = max(0, level + events[i].people_in - events[i].people_out)
            i += 1
        drift[day], level = level, 0
        day += timedelta(days=1)
    assert {d["day"]: d["drift"] for d in days} == drift
    assert sum(drift.values()) > 0
    space = _space()
    first, end = date(2005, 7, 24), date(2005, 11, 6)
    span = [first + timedelta(days=k) for k in range((end - first).days)]
    result = track(
        replay,
        bounds=hour_bounds(SH, first, end),
        resets=list(reset_instants(space.schedule, span).values()),
        opens=open_ranges(space.schedule, span),
    )
    instants = {datetime.fromtimestamp(r / 1000, UTC).time() for r in result.drifts}
    assert instants == {time(CLOSE_H - 8)}  # 19:00 Shanghai, never 00:00 UTC


def test_replayed_weeks_stored_per_day_on_the_database(
    factory: sessionmaker[Session], replay, calit2_path: Path
) -> None:
    """Two replayed weeks stored as door events of one space and refreshed: the stored
    day rows' visits equal the file's per-day in counts (SQLite and PostgreSQL)."""
    ins, _ = csv_in_per_day(calit2_path)
    first, last = date(2005, 8, 1), date(2005, 8, 14)
    lo = int(datetime(2005, 8, 1, tzinfo=SH).timestamp() * 1000)
    hi = int(datetime(2005, 8, 15, tzinfo=SH).timestamp() * 1000)
    with factory() as session:
        _, spaces = example(session)
        fitness = spaces["fitness"]
        events = [
            (datetime.fromtimestamp(c.ts_ms / 1000, UTC), c.people_in, c.people_out)
            for c in replay
            if lo <= c.ts_ms < hi
        ]
        add_crossings(session, fitness, events)
        refresh_days(session, local(2005, 9, 1), first, last, space_ids=[fitness.id])
        session.commit()
        rows = day_rows(session, [fitness.id], first, last + timedelta(days=1))[fitness.id]
    assert {r["day"]: r["visits"] for r in rows} == {
        first + timedelta(days=k): ins[first + timedelta(days=k)] for k in range(14)
    }
    assert all(r["drift"] >= 0 and r["peak"] >= 0 for r in rows)
