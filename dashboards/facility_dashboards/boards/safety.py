"""Safety tasks: disinfection and patrol, day by day, and the days something was missed.

``compliance_daily`` counts every task occurrence of a space per local day (the standard:
play areas disinfected every day, a dedicated person on patrol); it has no task tag, so
the split between disinfection and patrol comes from the check-ins themselves.
"""

from __future__ import annotations

from facility_dashboards.boards.overview import DECIDED, RATE, RATE_COLOURS
from facility_dashboards.core import (
    COMPLIANCE,
    RAW_SPACE,
    Json,
    board,
    panel,
    select,
    target,
)

UID = "facility-safety"
BARS = {"custom": {"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}}}


def _checkins(task: str, title: str, description: str) -> Json:
    return panel(
        "timeseries",
        title,
        [
            target(
                "A",
                select(
                    'sum("count")',
                    "checkin",
                    [*RAW_SPACE, f"\"task\" = '{task}'"],
                    ["time(1d)", "site", "space"],
                ),
                alias="$tag_site / $tag_space",
            )
        ],
        description=description,
        unit="none",
        defaults=BARS,
    )


def dashboard() -> Json:
    """The safety-task dashboard."""
    outcomes = (
        'sum("on_time") AS "on_time", sum("late") AS "late", sum("missed") AS "missed", '
        'sum("unknown") AS "unknown"'
    )
    panels = [
        panel(
            "timeseries",
            "Task compliance per day",
            [
                target(
                    "A",
                    select(
                        RATE,
                        "compliance_daily",
                        [*COMPLIANCE, DECIDED],
                        ["time(1d)", "site", "space"],
                    ),
                    alias="$tag_site / $tag_space",
                )
            ],
            description="On time / (on time + late + missed) per space and local day; days "
            "with nothing decided are blank.",
            unit="percent",
            defaults={
                "min": 0,
                "max": 100,
                "thresholds": RATE_COLOURS,
                "custom": {
                    "drawStyle": "line",
                    "showPoints": "always",
                    "thresholdsStyle": {"mode": "dashed"},
                },
            },
        ),
        panel(
            "timeseries",
            "Task occurrences per day by outcome",
            [target("A", select(outcomes, "compliance_daily", COMPLIANCE, ["time(1d)"]))],
            description="Every due occurrence of the selected spaces per local day: on time, "
            "late, missed (alerted), unknown (a check-in terminal was offline).",
            unit="none",
            defaults=BARS,
        ),
        _checkins(
            "disinfection",
            "Disinfection check-ins per day",
            "Staff badging a disinfection at a checkpoint, per space and local day.",
        ),
        _checkins(
            "patrol",
            "Patrol check-ins per day",
            "Patrol checkpoints badged, per space and local day (each round badges every "
            "checkpoint of the route).",
        ),
        panel(
            "table",
            "Days with missed or late tasks",
            [
                target(
                    "A",
                    select(
                        '"missed", "late", "due", "rate_pct"',
                        "compliance_daily",
                        [*COMPLIANCE, '("missed" > 0 OR "late" > 0)'],
                        ["site", "space"],
                    ),
                    table=True,
                )
            ],
            description="One row per space and local day with a miss or a late task (time = "
            "the day's local midnight). Which occurrence: the server's compliance board.",
            size=(24, 9),
        ),
    ]
    return board(
        UID,
        "Safety tasks",
        "Disinfection and patrol compliance per day; misses listed.",
        panels,
        time_from="now-30d/d",
    )
