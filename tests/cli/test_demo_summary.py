"""The demo's scorecard table reads like the report: numbers with units, notes, "-" for
nothing, one way of writing a number."""

from __future__ import annotations

from typing import Any

from facility_cli.demo_summary import fmt_number, scorecard_clause, scorecard_rows


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
