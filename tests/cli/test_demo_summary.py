"""The demo's summary: the scorecard table reads like the report (numbers with units,
notes, "-" for nothing, one way of writing a number); the utilisation table says what its
figures are; the pipeline check covers the point store and the server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from facility_cli.demo_summary import (
    UTILISATION_COLUMNS,
    UTILISATION_NOTE,
    fmt_number,
    health_line,
    scorecard_clause,
    scorecard_rows,
    summarise,
    utilisation_rows,
    utilisation_title,
)


def test_numbers_are_written_one_way() -> None:
    """None is "-", integers stay, floats lose a trailing ".0" and round to 0.1."""
    assert [fmt_number(v) for v in (None, 0, 0.0, 100.0, 66.6666, 2)] == [
        "-",
        "0",
        "0",
        "100",
        "66.7",
        "2",
    ]


def test_scorecard_rows_carry_units_and_notes() -> None:
    """A rate shows "%" glued, a count its unit after a space, a missing value "-", and
    the clause's note is kept."""
    clauses: list[dict[str, Any]] = [
        {
            "clause": "kids_disinfection",
            "service": "kids_play",
            "value": 0.0,
            "target": 100.0,
            "unit": "%",
            "status": "fail",
            "note": "已判定 1/1 次 (覆盖率 100%)",
        },
        {
            "clause": "elderly_lectures",
            "service": "elderly_care",
            "value": None,
            "target": 1,
            "unit": "events/month",
            "status": "pending",
            "note": "",
        },
    ]
    assert scorecard_rows(clauses) == [
        ["kids_disinfection", "kids_play", "0%", "100%", "fail", "已判定 1/1 次 (覆盖率 100%)"],
        ["elderly_lectures", "elderly_care", "-", "1 events/month", "pending", ""],
    ]


def test_task_rate_says_what_it_is_made_of() -> None:
    """A task rate keeps its on-time and decided counts and shows them after the rate, in
    the clause's own occurrences (days of disinfection, patrol rounds)."""
    disinfection = {
        "clause": "kids_disinfection",
        "service": "kids_play",
        "value": 0.0,
        "target": 100.0,
        "unit": "%",
        "status": "fail",
        "note": "",
        "detail": {"states": {"missed": 1}, "decided": 1, "due": 1, "coverage_pct": 100.0},
    }
    patrol = disinfection | {
        "clause": "kids_patrol",
        "value": 800 / 9,
        "detail": {"states": {"on_time": 8, "missed": 1}, "decided": 9, "due": 9},
    }
    clauses = [scorecard_clause(c) for c in (disinfection, patrol)]
    assert [(c["on_time"], c["decided"]) for c in clauses] == [(0, 1), (8, 9)]
    assert "detail" not in clauses[0]
    assert [row[2] for row in scorecard_rows(clauses)] == [
        "0% (0 of 1 days on time)",
        "88.9% (8 of 9 rounds on time)",
    ]
    assert "on_time" not in scorecard_clause({"clause": "satisfaction", "detail": {}})


def test_utilisation_title_names_the_last_day_included() -> None:
    """The server's range ends at an exclusive day; the title shows the last day included,
    like the door table's replayed days."""
    assert utilisation_title({"from": "2026-11-22", "to": "2026-11-29"}) == (
        "Utilisation per space, 2026-11-22..11-28 (server; docs/metrics.md)"
    )


def test_utilisation_rows_show_capacity_beside_the_occupancy_rate() -> None:
    """A row reads space, capacity, peak, mean inside, open h, occupied h, utilisation %,
    occupancy %; a rate over 100 % (mean 20.6 people in a room for 8) is shown as is."""
    space = {
        "space": "legal-aid",
        "capacity": 8,
        "visits": 1309,
        "peak_occupancy": 86,
        "mean_occupancy": 20.58,
        "open_h": 6.0,
        "occupied_h": 3.0,
        "utilisation_pct": 50.0,
        "occupancy_pct": 257.3,
    }
    assert [h for h, _ in UTILISATION_COLUMNS] == [
        "space",
        "capacity",
        "peak",
        "mean",
        "open h",
        "occupied h",
        "utilisation %",
        "occupancy %",
    ]
    assert utilisation_rows([space, {"space": "closed-room", "capacity": 0}]) == [
        ["legal-aid", "8", "86", "20.6", "6", "3", "50", "257.3"],
        ["closed-room", "0", "-", "-", "-", "-", "-", "-"],
    ]
    assert "over 100 when more people than the capacity" in UTILISATION_NOTE


@dataclass
class _Slot:
    start: datetime
    end: datetime
    people_in: int
    people_out: int


@dataclass
class _Plan:
    space: str
    slots: list[_Slot]
    space_name: str = "Room"
    space_type: str = "culture"
    device: str = "dc-1"
    capacity: int = 8


@dataclass
class _Point:
    time_ns: int
    people_in: int
    people_out: int

    def field_dict(self) -> dict[str, int]:
        return {"in": self.people_in, "out": self.people_out}


class _Store:
    def __init__(self, points: list[_Point]) -> None:
        self._points = points

    def points(self, measurement: str, tags: dict[str, str]) -> list[_Point]:
        return self._points if measurement == "door_crossing" else []

    def count(self, measurement: str) -> int:
        return len(self._points) if measurement == "door_crossing" else 0


def _summary(server_visits: int) -> dict[str, Any]:
    start = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Hangzhou
    slots = [
        _Slot(start, start + timedelta(minutes=30), 5, 2),
        _Slot(start + timedelta(minutes=30), start + timedelta(hours=1), 3, 6),
    ]
    points = [_Point(int(s.start.timestamp() * 1e9), s.people_in, s.people_out) for s in slots]
    return summarise(
        cx={"site": "s1", "name": "Complex", "timezone": "Asia/Shanghai"},
        plans=[_Plan("legal-aid", slots)],
        store=_Store(points),
        gateway={"counters": {"duplicate": 0}},
        edge_depth=0,
        health={},
        elapsed_s=1.0,
        activity={"votes": 0, "unconfirmed": 0},
        views={"utilisation": {}, "scorecard": {}, "scorecard_period": "2026H2"},
        day={},
        kiosk={},
        server_visits=server_visits,
    )


def test_all_stored_exactly_needs_the_server_too() -> None:
    """The replay's 8 visits must be in the point store and in the server (whose ingest
    feeds utilisation): a server that stored 5 of them fails the check."""
    done, lagging = _summary(8), _summary(5)
    assert done["door_traffic"]["totals"]["visits"] == 8
    assert done["pipeline"]["server_visits"] == 8
    assert done["pipeline"]["all_stored_exactly"] is True
    assert lagging["door_traffic"]["spaces"][0]["matches_file"] is True
    assert lagging["pipeline"]["all_stored_exactly"] is False


def test_health_line_names_devices_offline_or_never_seen() -> None:
    """Counts by state, the devices offline or never seen by name, open alerts by kind."""
    h = {
        "devices": 19,
        "online": 16,
        "offline": 1,
        "never_seen": 2,
        "offline_devices": ["shuguang/ci-kids-play"],
        "never_seen_devices": ["shuguang/bt-culture", "shuguang/qr-gate"],
        "open_alerts": [
            {"kind": "task_missed"},
            {"kind": "device_offline"},
            {"kind": "task_missed"},
        ],
    }
    assert health_line(h) == (
        "Device health now: 16 online, 1 offline (shuguang/ci-kids-play), 2 never seen "
        "(shuguang/bt-culture, shuguang/qr-gate), of 19 devices; alerts not resolved: 3 "
        "(device_offline 1, task_missed 2)."
    )
    quiet = {"devices": 2, "online": 2, "offline": 0, "never_seen": 0}
    assert health_line(quiet) == (
        "Device health now: 2 online, 0 offline, 0 never seen, of 2 devices; alerts not "
        "resolved: 0."
    )
