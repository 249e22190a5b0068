"""Device health as a pure function of (devices, last status, now).

A device is ``online`` while its last status says online and it was heard from within
three heartbeats; ``offline`` after its last will (status ``offline``) or three missed
heartbeats; ``never_seen`` (also offline) when it never reported. A serial device is read
by an edge agent (``via``), so it is offline whenever its edge agent is.

An alert is due when a device is not online and has been silent for more than three
heartbeats (never-seen devices: since they were registered). Alerts are grouped:

1. every device of a complex (two or more) down -> one ``complex_offline`` alert;
2. else an edge agent down -> one ``edge_offline`` alert covering the devices it reads;
3. else one ``device_offline`` alert per device.

Each alert's occurrence is the last time its subject was heard from, so one outage gives
one alert and the next outage a new one. Units: seconds; instants UTC, tz-aware.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

HealthState = Literal["online", "offline", "never_seen"]
HEALTH_STATES: tuple[HealthState, ...] = ("online", "offline", "never_seen")
HEALTH_ALERT_KINDS = ("device_offline", "edge_offline", "complex_offline")
#: Missed heartbeats before a device counts as silent and an alert is due.
MISSED_HEARTBEATS = 3


@dataclass(frozen=True, slots=True)
class DeviceView:
    """What the evaluation needs to know about a registered device."""

    id: int
    code: str
    complex_id: int
    site_id: str
    kind: str
    via_id: int | None
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class LastStatus:
    """The last status heard from a device: ``online``/``offline``, when (UTC), heartbeat (s)."""

    state: str
    last_seen: datetime | None
    heartbeat_s: float | None = None


@dataclass(frozen=True, slots=True)
class AlertWish:
    """An alert that should be open now."""

    kind: str
    subject: str
    occurrence: str
    complex_id: int
    title: str
    devices: tuple[str, ...]


@dataclass(slots=True)
class HealthReport:
    """Per-device state and the alerts that should be open."""

    states: dict[int, HealthState] = field(default_factory=dict)
    alerts: list[AlertWish] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Devices per state."""
        out = dict.fromkeys(HEALTH_STATES, 0)
        for state in self.states.values():
            out[state] += 1
        return out


def _own_state(status: LastStatus | None, now: datetime, hb: float) -> HealthState:
    if status is None or (status.last_seen is None and status.state != "online"):
        return "never_seen"
    if status.state != "online" or status.last_seen is None:
        return "offline"
    return (
        "offline"
        if now - status.last_seen > timedelta(seconds=MISSED_HEARTBEATS * hb)
        else "online"
    )


def evaluate(
    devices: Sequence[DeviceView],
    statuses: Mapping[int, LastStatus],
    now: datetime,
    default_heartbeat_s: float = 60.0,
) -> HealthReport:
    """Evaluate every device at ``now``; see the module docstring for the rules.

    Raises:
        ValueError: when ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be tz-aware")
    report = HealthReport()
    hb = {
        d.id: (statuses[d.id].heartbeat_s if d.id in statuses else None) or default_heartbeat_s
        for d in devices
    }
    for d in devices:
        report.states[d.id] = _own_state(statuses.get(d.id), now, hb[d.id])
    for d in devices:
        edge_down = d.via_id is not None and report.states.get(d.via_id, "online") != "online"
        if edge_down and report.states[d.id] == "online":
            report.states[d.id] = "offline"
    due = {
        d.id
        for d in devices
        if report.states[d.id] != "online" and _silent(d, statuses, now, hb[d.id])
    }
    report.alerts = _group(devices, statuses, report.states, due)
    return report


def _silent(d: DeviceView, statuses: Mapping[int, LastStatus], now: datetime, hb: float) -> bool:
    status = statuses.get(d.id)
    since = status.last_seen if status and status.last_seen else d.registered_at
    return now - since > timedelta(seconds=MISSED_HEARTBEATS * hb)


def _occurrence(ds: Sequence[DeviceView], statuses: Mapping[int, LastStatus]) -> str:
    seen = [s.last_seen for d in ds if (s := statuses.get(d.id)) and s.last_seen]
    return max(seen).isoformat(timespec="milliseconds") if seen else "never"


def _group(
    devices: Sequence[DeviceView],
    statuses: Mapping[int, LastStatus],
    states: Mapping[int, HealthState],
    due: set[int],
) -> list[AlertWish]:
    by_complex: dict[int, list[DeviceView]] = defaultdict(list)
    for d in devices:
        by_complex[d.complex_id].append(d)
    wishes: list[AlertWish] = []
    for cid, members in by_complex.items():
        site = members[0].site_id
        down = [d for d in members if states[d.id] != "online"]
        if len(members) >= 2 and len(down) == len(members) and any(d.id in due for d in members):
            wishes.append(
                AlertWish(
                    "complex_offline",
                    site,
                    _occurrence(members, statuses),
                    cid,
                    f"{site}: every device offline (edge agent or network down)",
                    tuple(d.code for d in members),
                )
            )
            continue
        covered: set[int] = set()
        for edge in (d for d in members if d.kind == "edge_agent" and d.id in due):
            group = [edge, *(d for d in members if d.via_id == edge.id)]
            covered.update(d.id for d in group)
            wishes.append(
                AlertWish(
                    "edge_offline",
                    f"{site}/{edge.code}",
                    _occurrence([edge], statuses),
                    cid,
                    f"{site}: edge agent {edge.code} offline",
                    tuple(d.code for d in group),
                )
            )
        for d in members:
            edge_up = d.via_id is None or states.get(d.via_id, "online") == "online"
            if d.id in due and d.id not in covered and edge_up:
                wishes.append(
                    AlertWish(
                        "device_offline",
                        f"{site}/{d.code}",
                        _occurrence([d], statuses),
                        cid,
                        f"{site}: {d.kind} {d.code} offline",
                        (d.code,),
                    )
                )
    return wishes
