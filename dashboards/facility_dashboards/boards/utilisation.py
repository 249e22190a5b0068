"""Utilisation: visits and occupancy per space, and when in the week people come.

Two hour-by-hour views: a heatmap of the last 7 local days (each column one day, each
row one local hour) and the typical week, a weekday x hour table of mean visits over the
weeks since Monday three weeks ago (InfluxQL has no hour-of-week function: see
:func:`facility_dashboards.core.slot_means`).
"""

from __future__ import annotations

from facility_dashboards.core import (
    AGG,
    GROUP_TZ,
    RAW_SPACE,
    Json,
    board,
    hourly,
    panel,
    select,
    slot_means,
    target,
)

UID = "facility-utilisation"
SPACE_ALIAS = "$tag_complex / $tag_space"
#: The typical week: Monday three weeks ago until now (whole weeks, then this one so far).
TYPICAL_WEEK = "now-3w/w"


def hour_of_day_query(hour: int) -> str:
    """Visits in local hour ``hour`` of each local day, labelled with the day's midnight.

    Innermost: visits per clock hour, zero-filled so every hour has a point; middle: the
    first point of each ``[day + hour, next day + hour)`` bucket, which is exactly hour
    ``hour``; outer: that value moved to its local day. The middle bucket that starts
    before the range holds hour 0 of the first day and comes out as the day before the
    range, which the panel does not show.
    """
    hourly = (
        'SELECT sum("visits") AS "v" FROM "utilisation_hourly" WHERE $timeFilter AND '
        + " AND ".join(AGG)
        + f" GROUP BY time(1h) fill(0) {GROUP_TZ}"
    )
    at_hour = f'SELECT first("v") AS "x" FROM ({hourly}) GROUP BY time(1d, {hour}h) {GROUP_TZ}'
    return f'SELECT first("x") FROM ({at_hour}) WHERE $timeFilter GROUP BY time(1d) {GROUP_TZ}'


def week_row_query(weekday: int) -> str:
    """Mean visits in each local hour (columns ``00`` .. ``23``) of one weekday (0 = Monday)
    over the weeks of the range; the row's time is that weekday's first midnight."""
    series = hourly("visits", "utilisation_hourly", AGG)
    slots = [(f"{h:02d}", weekday * 24 + h) for h in range(24)]
    return slot_means(series, slots, "1w", weekday * 24)


def _typical_week() -> Json:
    colour = {"mode": "continuous-YlRd"}
    cells = {"cellOptions": {"type": "color-background"}, "align": "center"}
    day_column = {
        "matcher": {"id": "byName", "options": "Time"},
        "properties": [
            {"id": "unit", "value": "time:dddd"},
            {"id": "displayName", "value": "Weekday"},
            {"id": "custom.cellOptions", "value": {"type": "auto"}},
        ],
    }
    return panel(
        "table",
        "Typical week: mean visits per hour of week",
        [target(chr(65 + d), week_row_query(d), table=True) for d in range(7)],
        description="Hour-of-week map: one row per weekday, one column per local hour; each "
        "cell is the mean number of people entering the selected spaces in that hour, over "
        "the weeks from Monday three weeks ago until now (an hour that has not come yet "
        "this week is averaged over the earlier weeks). Hours without data count as zero.",
        unit="none",
        defaults={"decimals": 1, "min": 0, "color": colour, "custom": cells},
        overrides=[day_column],
        time_from=TYPICAL_WEEK,
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "sortBy", "options": {"sort": [{"field": "Time", "desc": False}]}},
        ],
        size=(24, 9),
    )


def _table(title: str, targets: list[Json], description: str, unit: str = "short") -> Json:
    return panel(
        "table",
        title,
        targets,
        description=description,
        unit=unit,
        transformations=[{"id": "merge", "options": {}}],
        size=(24, 9),
    )


def dashboard() -> Json:
    """The utilisation dashboard."""
    occupancy = (
        'SELECT sum("w") / sum("open_min") AS "occupancy_pct" FROM '
        '(SELECT "occupancy_pct" * "open_min" AS "w", "open_min" FROM "utilisation_daily" '
        "WHERE $timeFilter AND "
        + " AND ".join(AGG)
        + ' AND "open_min" > 0 AND "occupancy_pct" >= 0) GROUP BY "complex", "space"'
    )
    bars = {"custom": {"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}}}
    panels = [
        panel(
            "timeseries",
            "Visits per space",
            [
                target(
                    "A",
                    select(
                        'sum("in")',
                        "door_crossing",
                        RAW_SPACE,
                        ["time($__interval)", "site", "space"],
                        fill="0",
                    ),
                    alias="$tag_site / $tag_space",
                )
            ],
            description="People counted entering, per space, live from the door counters.",
            unit="none",
            defaults=bars,
        ),
        panel(
            "timeseries",
            "Peak occupancy per space",
            [
                target(
                    "A",
                    select(
                        'max("peak_occupancy")',
                        "utilisation_hourly",
                        AGG,
                        ["time($__interval)", "complex", "space"],
                    ),
                    alias=SPACE_ALIAS,
                )
            ],
            description="Highest number of people inside at any moment (server's hourly "
            "aggregates: never negative, reset at closing time).",
            unit="none",
        ),
        panel(
            "timeseries",
            "Visits per day per space",
            [
                target(
                    "A",
                    select(
                        'sum("visits")', "utilisation_daily", AGG, ["time(1d)", "complex", "space"]
                    ),
                    alias=SPACE_ALIAS,
                )
            ],
            description="People entering each space per local day.",
            unit="none",
            defaults=bars,
            size=(24, 8),
        ),
        _table(
            "Utilisation per space",
            [
                target(
                    "A",
                    select(
                        'sum("visits") AS "visits", '
                        'max("peak_occupancy") AS "peak_occupancy", '
                        'sum("open_min") / 60 AS "open_h", '
                        'sum("occupied_min") / 60 AS "occupied_h"',
                        "utilisation_daily",
                        AGG,
                        ["complex", "space"],
                    ),
                    table=True,
                ),
                target(
                    "B",
                    select(
                        'sum("occupied_min") / sum("open_min") * 100 AS "utilisation_pct"',
                        "utilisation_daily",
                        [*AGG, '"open_min" > 0'],
                        ["complex", "space"],
                    ),
                    table=True,
                ),
                target("C", occupancy, table=True),
            ],
            "Over the time range: visits, highest occupancy, published open hours, occupied "
            "hours; utilisation = occupied / open hours; occupancy = mean people inside while "
            "open / capacity (weighted by open time). Rates come from sums, never averages.",
        ),
        panel(
            "heatmap",
            "Visits by local hour, day by day",
            [target(chr(65 + h), hour_of_day_query(h), alias=f"{h:02d}") for h in range(24)],
            description="Each column one local day of the range, each row a local hour: people "
            "entering the selected spaces. Single days, not an average: the typical week is "
            "the hour-of-week table below.",
            unit="none",
            options={
                "calculate": False,
                "rowsFrame": {"layout": "ge", "value": "Visits"},
                "yAxis": {"axisPlacement": "left", "unit": "none", "reverse": True},
                "color": {"mode": "scheme", "scheme": "Oranges", "steps": 32, "scale": "linear"},
                "cellGap": 1,
                "showValue": "never",
                "tooltip": {"mode": "single", "yHistogram": False},
                "legend": {"show": True},
            },
            size=(24, 10),
        ),
        _typical_week(),
    ]
    return board(
        UID,
        "Utilisation",
        "Visits and occupancy per space; visits by hour, day by day and in a typical week "
        "(local time, Asia/Shanghai).",
        panels,
        time_from="now-6d/d",
    )
