"""Overview: per district and complex, the state of things at a glance."""

from __future__ import annotations

from facility_dashboards.core import (
    AGG,
    COMPLIANCE,
    LAST_VALUE,
    RAW_SITE,
    RAW_SPACE,
    Json,
    board,
    panel,
    select,
    target,
    text,
    thresholds,
)

UID = "facility-overview"

#: on time / decided * 100; days with nothing decided are left out (InfluxQL's 0/0 is 0).
RATE = 'sum("on_time") / (sum("on_time") + sum("late") + sum("missed")) * 100'
DECIDED = '("on_time" > 0 OR "late" > 0 OR "missed" > 0)'
RATE_COLOURS = thresholds(("red", None), ("orange", 90), ("green", 100))


def _bars(
    title: str,
    query: str,
    *,
    description: str,
    unit: str = "short",
    alias: str = "$tag_site",
    defaults: Json | None = None,
    time_from: str | None = None,
) -> Json:
    return panel(
        "bargauge",
        title,
        [target("A", query, alias=alias)],
        description=description,
        unit=unit,
        options={
            "orientation": "horizontal",
            "displayMode": "gradient",
            "reduceOptions": LAST_VALUE,
            "showUnfilled": True,
        },
        defaults=defaults,
        time_from=time_from,
        size=(8, 8),
    )


def dashboard() -> Json:
    """The overview dashboard."""
    devices = (
        'SELECT sum("online") AS "online", count("online") AS "reporting" FROM '
        '(SELECT last("online") AS "online" FROM "device_status" WHERE $timeFilter AND '
        + " AND ".join(RAW_SITE)
        + ' GROUP BY "site", "device") GROUP BY "site"'
    )
    panels = [
        _bars(
            "Task compliance yesterday (last complete day) by complex",
            select(RATE, "compliance_daily", [*COMPLIANCE, DECIDED], ["site"]),
            description="Safety tasks done on time / (on time + late + missed) on the last "
            "complete local day: the server writes a day only once it is over, so there is no "
            "figure for today in the time series (empty just after midnight until the "
            "server's next compliance run). Today so far: the server's "
            "/complexes/{id}/today.",
            unit="percent",
            defaults={"min": 0, "max": 100, "thresholds": RATE_COLOURS},
            time_from="now-1d/d",
        ),
        _bars(
            "Task compliance by district, last 7 days",
            select(RATE, "compliance_daily", [*COMPLIANCE, DECIDED], ["district"]),
            description="On-time rate of all safety tasks per district over the last 7 local "
            "days (sums of occurrences, never an average of rates).",
            unit="percent",
            defaults={"min": 0, "max": 100, "thresholds": RATE_COLOURS},
            time_from="now-7d/d",
            alias="$tag_district",
        ),
        _bars(
            "Missed tasks, last 7 days, by complex",
            select('sum("missed")', "compliance_daily", COMPLIANCE, ["site"]),
            description="Task occurrences not done (each one alerted) over the last 7 local days.",
            defaults={"thresholds": thresholds(("green", None), ("red", 1))},
            time_from="now-7d/d",
        ),
        _bars(
            "Occupancy now by complex",
            select('sum("in") - sum("out")', "door_crossing", RAW_SPACE, ["site"]),
            description="People counted in minus out since local midnight, from the door "
            "counters' own events (not clamped at zero; the server's utilisation figures are).",
            unit="none",
            time_from="now/d",
        ),
        _bars(
            "Visits today by complex",
            select('sum("in")', "door_crossing", RAW_SPACE, ["site"]),
            description="People counted entering any selected space since local midnight.",
            unit="none",
            time_from="now/d",
        ),
        panel(
            "table",
            "Devices online by complex (last hour)",
            [target("A", devices, table=True)],
            description="Devices whose latest status in the last hour says online, and how many "
            "reported at all. Serial devices report through their edge agent; devices silent "
            "for the whole hour are not counted here (see Device health).",
            size=(8, 8),
            time_from="now-1h",
        ),
        panel(
            "timeseries",
            "Visits per day by district",
            [
                target(
                    "A",
                    select('sum("visits")', "utilisation_daily", AGG, ["time(1d)", "district"]),
                    alias="$tag_district",
                )
            ],
            description="People entering the selected spaces per local day, by district "
            "(the server's daily utilisation aggregates).",
            options={"legend": {"displayMode": "table", "placement": "right", "calcs": ["sum"]}},
            defaults={
                "custom": {"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}}
            },
            size=(16, 8),
        ),
        text(
            "Open alerts",
            "Alerts (missed tasks, devices offline, opening quotas) live in the server, not in "
            "the time series: `GET /api/v1/alerts?state=open` or the server's UI. "
            "Missed tasks per day are on the *Safety tasks* dashboard.",
            size=(8, 8),
        ),
    ]
    return board(
        UID,
        "Facility overview",
        "Per district and complex: task compliance, occupancy, visits and devices.",
        panels,
        time_from="now-7d/d",
        refresh="1m",
    )
