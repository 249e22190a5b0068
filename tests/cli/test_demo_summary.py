"""The demo's scorecard table reads like the report: numbers with units, notes, "-" for
nothing, one way of writing a number."""

from __future__ import annotations

from typing import Any

from facility_cli.demo_summary import fmt_number, scorecard_rows


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
