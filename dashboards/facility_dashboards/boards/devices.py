"""Device health: offline, silent, low on storage, drifting clocks.

The server's device-health evaluation (three missed heartbeats, grouped alerts) is the
authority; these panels show the raw signals behind it.
"""

from __future__ import annotations

from facility_dashboards.core import (
    RAW_SITE,
    Json,
    board,
    panel,
    select,
    target,
    thresholds,
)

UID = "facility-devices"
DEVICE_ALIAS = "$tag_site / $tag_device"


def _table(title: str, query: str, description: str, size: tuple[int, int] = (12, 9)) -> Json:
    return panel(
        "table", title, [target("A", query, table=True)], description=description, size=size
    )


def _series(title: str, query: str, description: str, unit: str, **defaults: object) -> Json:
    return panel(
        "timeseries",
        title,
        [target("A", query, alias=DEVICE_ALIAS)],
        description=description,
        unit=unit,
        defaults=dict(defaults),
    )


def dashboard() -> Json:
    """The device-health dashboard."""
    per_device = ["site", "device"]
    board_fields = (
        'last("outbox") AS "outbox", last("disk_free_mb") AS "disk_free_mb", '
        'last("synced") AS "synced", last("uptime_s") AS "uptime_s"'
    )
    panels = [
        _table(
            "Devices: last status",
            select('last("online") AS "online"', "device_status", RAW_SITE, per_device),
            "Latest status per edge agent or MQTT device in the range: time = last heard, "
            "online 1 or 0 (0: last will or clean stop). Missing: never heard in the range.",
        ),
        _table(
            "Edge boards: outbox, disk, clock",
            select(board_fields, "device_status", RAW_SITE, per_device),
            "Latest values: events waiting in the outbox, free disk (MiB), clock synchronised "
            "(1) or not (0), uptime (s).",
        ),
        _series(
            "Outbox backlog",
            select('max("outbox")', "device_status", RAW_SITE, ["time($__interval)", *per_device]),
            "Events waiting on the board: grows while the broker or the gateway is unreachable.",
            "none",
        ),
        _series(
            "Free disk",
            select(
                'min("disk_free_mb")', "device_status", RAW_SITE, ["time($__interval)", *per_device]
            ),
            "Free space on the board's disk (the outbox lives there).",
            "decmbytes",
            thresholds=thresholds(("red", None), ("orange", 200), ("green", 1000)),
        ),
        _table(
            "Door counters: last event",
            select('last("seq") AS "seq"', "door_crossing", RAW_SITE, per_device),
            "When each door counter last produced an event (time) in the range: a counter "
            "silent for long in opening hours is suspect.",
        ),
        _table(
            "Events with estimated time",
            select(
                'count("seq") AS "estimated"',
                "door_crossing",
                [*RAW_SITE, "\"clock\" = 'estimated'"],
                per_device,
            ),
            "Door events whose time the gateway had to estimate (device clock not synchronised "
            "or implausible): a drifting or reset clock.",
        ),
        _table(
            "Device notices",
            select('sum("count") AS "notices"', "device_notice", RAW_SITE, [*per_device, "code"]),
            "What the edge noticed per device: power_cycle, wrap, frame_gap, clock_step, "
            "reconnected, reading_rejected (a kiosk reading refused), outbox_recovered (the "
            "board's outbox was damaged and rebuilt: see its journal; docs/deploy.md).",
            size=(24, 8),
        ),
    ]
    return board(
        UID,
        "Device health",
        "Edge agents and devices: status, backlog, disk, clocks, notices.",
        panels,
        time_from="now-24h",
        refresh="1m",
    )
