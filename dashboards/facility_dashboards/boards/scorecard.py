"""The standard's numbers (4+5+X): quotas per week, satisfaction, events, safety, utilisation.

The authoritative scorecard (pass/fail per clause, excused weeks, roll-ups) is the server's
(docs/metrics.md); these panels show the same figures over any time range. Calendar months
do not exist in InfluxQL, so monthly and yearly counts are read over the chosen range.
"""

from __future__ import annotations

from facility_dashboards.boards.overview import DECIDED, RATE
from facility_dashboards.core import (
    AGG,
    COMPLIANCE,
    LAST_VALUE,
    RAW_SPACE,
    WEEK,
    Json,
    board,
    math,
    panel,
    select,
    target,
    thresholds,
)

UID = "facility-scorecard"
SPACE_ALIAS = "$tag_complex / $tag_space"
POSITIVE = '"rating" =~ /^(very_satisfied|satisfied)$/'


def _weekly(title: str, query: str, target_value: float, unit: str, description: str) -> Json:
    return panel(
        "timeseries",
        title,
        [target("A", query, alias=SPACE_ALIAS)],
        description=description,
        unit=unit,
        defaults={
            "thresholds": thresholds(("red", None), ("green", target_value)),
            "custom": {
                "drawStyle": "bars",
                "fillOpacity": 60,
                "thresholdsStyle": {"mode": "line+area"},
            },
        },
    )


def _per_space(title: str, query: str, description: str, unit: str = "none") -> Json:
    return panel(
        "bargauge",
        title,
        [target("A", query, alias="$tag_site / $tag_space")],
        description=description,
        unit=unit,
        options={
            "orientation": "horizontal",
            "displayMode": "basic",
            "reduceOptions": LAST_VALUE,
        },
        size=(8, 8),
    )


def dashboard() -> Json:
    """The standard scorecard dashboard."""
    votes = ["site", "space"]
    panels = [
        _weekly(
            "Culture: open hours per week (≥ 28 h)",
            select(
                'sum("actual_open_min") / 60',
                "utilisation_daily",
                [*AGG, "\"space_type\" = 'culture'"],
                [WEEK, "complex", "space"],
            ),
            28,
            "h",
            "Hours the culture and leisure space was actually open per ISO week (Monday "
            "first, local time). Weeks cut by the time range are partial.",
        ),
        _weekly(
            "Health station: open days per week (≥ 5)",
            select(
                'count("actual_open_min")',
                "utilisation_daily",
                [*AGG, "\"space_type\" = 'health'", '"actual_open_min" > 0'],
                [WEEK, "complex", "space"],
            ),
            5,
            "none",
            "Days the health station was actually open per ISO week (Monday first).",
        ),
        panel(
            "bargauge",
            "Satisfaction per service (≥ 80 %)",
            [
                {
                    **target(
                        "A",
                        select('sum("count")', "satisfaction_vote", [*RAW_SPACE, POSITIVE], votes),
                    ),
                    "hide": True,
                },
                {
                    **target("B", select('sum("count")', "satisfaction_vote", RAW_SPACE, votes)),
                    "hide": True,
                },
                math("C", "$A / $B * 100"),
            ],
            description="(very satisfied + satisfied) / all votes per space over the range. "
            "The standard asks to adjust any service under 80 % (the server opens a "
            "rectification item when at least 10 votes were cast).",
            unit="percent",
            options={
                "orientation": "horizontal",
                "displayMode": "gradient",
                "reduceOptions": LAST_VALUE,
            },
            defaults={"min": 0, "max": 100, "thresholds": thresholds(("red", None), ("green", 80))},
            size=(12, 8),
        ),
        panel(
            "table",
            "Votes by rating per service",
            [
                target(
                    "A",
                    select(
                        'sum("count") AS "votes"',
                        "satisfaction_vote",
                        RAW_SPACE,
                        [*votes, "rating"],
                    ),
                    table=True,
                )
            ],
            description="Presses of the satisfaction terminals over the range.",
            size=(12, 8),
        ),
        _per_space(
            "Kids' play area: task compliance",
            select(
                RATE,
                "compliance_daily",
                [*COMPLIANCE, "\"space_type\" = 'kids_play'", DECIDED],
                ["site", "space"],
            ),
            "Disinfection and patrol occurrences done on time / decided, over the range "
            "(target 100 %).",
            unit="percent",
        ),
        _per_space(
            "Activities (lectures, clinics, events)",
            select(
                'sum("count")', "checkin", [*RAW_SPACE, "\"task\" = 'activity'"], ["site", "space"]
            ),
            "Activity check-ins per space over the range: elderly care ≥ 1 a month, aid ≥ 2 a "
            "year, fitness ≥ 4 a year.",
        ),
        _per_space(
            "Equipment maintenance",
            select(
                'sum("count")',
                "checkin",
                [*RAW_SPACE, "\"task\" = 'maintenance'"],
                ["site", "space"],
            ),
            "Maintenance check-ins per space over the range (fitness: maintained regularly).",
        ),
        panel(
            "bargauge",
            "Utilisation per complex",
            [
                target(
                    "A",
                    select(
                        'sum("occupied_min") / sum("open_min") * 100',
                        "utilisation_daily",
                        [*AGG, '"open_min" > 0'],
                        ["complex"],
                    ),
                    alias="$tag_complex",
                )
            ],
            description="Occupied hours / published open hours of all selected spaces.",
            unit="percent",
            options={
                "orientation": "horizontal",
                "displayMode": "basic",
                "reduceOptions": LAST_VALUE,
            },
            defaults={"min": 0, "max": 100},
            size=(24, 8),
        ),
    ]
    return board(
        UID,
        "Standard scorecard (4+5+X)",
        "The Hangzhou standard's numbers per complex and service.",
        panels,
        time_from="now/y",
        refresh="1h",
    )
