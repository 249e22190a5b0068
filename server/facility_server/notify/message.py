"""The text of a notification (pure): what, where, since when, who is responsible.

Times are shown in the complex's zone (Asia/Shanghai), to the minute, with the zone
named. Names come from the registry (Chinese), labels are short English words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Where the clinician reads and acknowledges a health-kiosk crisis (never ``/alerts``).
CRISES_ROUTE = "/api/v1/vitals/crises"

#: Event names in the outbox: the alert opened, went up to level N, was resolved.
OPENED, RESOLVED = "opened", "resolved"
LEVEL_NAMES = ("complex", "street", "district")


def escalated(level: int) -> str:
    """Outbox event of an escalation to ``level`` (1 street, 2 district)."""
    return f"escalated:{level}"


@dataclass(frozen=True, slots=True)
class Facts:
    """What a message says about one alert.

    Attributes:
        alert_id: the alert's id (to acknowledge it).
        kind: alert kind (``task_missed``, ``device_offline``, ``edge_offline``,
            ``complex_offline``, ``vital_crisis``).
        title: the alert's title.
        complex_name / site_id: where.
        since: local text of when the problem started (a task's deadline, a device's
            last contact), zone included.
        detail: the alert's detail (task alerts: rule, space, missing checkpoints,
            responsible person; device alerts: the devices).
        state / resolution / note: for resolved alerts.
        level: the escalation level the message goes to (0 complex, 1 street, 2 district).
        escalate_after_min: minutes an alert waits for acknowledgement per level.
    """

    alert_id: int
    kind: str
    title: str
    complex_name: str
    site_id: str
    since: str
    detail: dict[str, Any] = field(default_factory=dict)
    state: str = "open"
    resolution: str | None = None
    note: str | None = None
    level: int = 0
    escalate_after_min: float | None = None


def _task_lines(f: Facts) -> list[str]:
    d = f.detail
    what = d.get("rule_name") or d.get("rule", "")
    lines = [
        f"What: task not done: {what} ({d.get('task', '')}, occurrence {d.get('key', '')})",
        f"Where: {f.complex_name} ({f.site_id}) / {d.get('space_name', '')} ({d.get('space', '')})",
        f"Since: {d.get('deadline', f.since)} {d.get('timezone', '')} (deadline; window from "
        f"{d.get('start', '')}, alerted {d.get('alert_at', '')})",
    ]
    who = d.get("responsible") or {}
    lines.append(
        f"Responsible: {who.get('name') or '?'} ({who['code']})"
        if who
        else "Responsible: the complex manager"
    )
    missing = d.get("missing") or []
    if missing:
        names = ", ".join(f"{m.get('name') or m['code']} ({m['code']})" for m in missing)
        lines.append(f"Missing checkpoints: {names}")
    return lines


def _device_lines(f: Facts) -> list[str]:
    devices = ", ".join(f.detail.get("devices", []))
    return [
        f"What: {f.title}",
        f"Where: {f.complex_name} ({f.site_id})",
        f"Since: {f.since} (last heard)",
        f"Devices: {devices}",
        "Responsible: IoT duty for the complex (check power and network of the terminal "
        "or edge agent; task check-ins wait in its outbox meanwhile)",
    ]


def _vital_lines(f: Facts) -> list[str]:
    """A health-kiosk crisis: where and when only. Chat groups read these messages, so no
    reading value and no member (name or pseudonym) is ever in them (PIPL art. 28)."""
    d = f.detail
    who = (
        "Member: enrolled with consent (name and values: clinician API)"
        if d.get("identified")
        else "Member: UNIDENTIFIED (no consent on record): find the person at the kiosk; "
        "the clinician API shows which readings were in a crisis range"
    )
    return [
        "What: a vital-sign reading in a crisis range at a health kiosk",
        f"Where: {f.complex_name} ({f.site_id}) / {d.get('space_name', '')} "
        f"({d.get('space', '')}), kiosk {d.get('kiosk', '')}",
        f"When: {f.since}",
        who,
        "Responsible: the clinician on duty (values and member: clinician API only, "
        f"GET {CRISES_ROUTE}/{f.alert_id}?purpose=crisis_follow_up)",
    ]


#: Alert kind prefix -> (the lines of its message, the API route that acknowledges it);
#: other kinds (device health): :data:`_DEVICES`. A health-kiosk crisis is acknowledged
#: by the clinician on duty on the vitals route, never ``/alerts``.
_BY_KIND: dict[str, tuple[Callable[[Facts], list[str]], str]] = {
    "vital_": (_vital_lines, CRISES_ROUTE),
    "task_": (_task_lines, "/api/v1/alerts"),
}
_DEVICES = (_device_lines, "/api/v1/alerts")


def compose(f: Facts, event: str) -> tuple[str, str]:
    """(title, body) of the message about ``event`` (``opened``, ``escalated:N``,
    ``resolved``) of the alert described by ``f``."""
    if event == RESOLVED:
        tag = "RESOLVED"
    elif event.startswith("escalated:"):
        tag = f"ESCALATED to {LEVEL_NAMES[int(event.split(':')[1])]}"
    else:
        tag = "ALERT"
    describe, route = next(
        (found for prefix, found in _BY_KIND.items() if f.kind.startswith(prefix)), _DEVICES
    )
    lines = describe(f)
    if event.startswith("escalated:") and f.escalate_after_min:
        lines.append(f"Not acknowledged within {f.escalate_after_min:g} min at the level below.")
    if event == RESOLVED:
        lines.append(f"Resolved: {f.resolution or ''}" + (f": {f.note}" if f.note else ""))
    else:
        lines.append(f"Acknowledge: POST {route}/{f.alert_id}/acknowledge")
    return f"[{tag}] {f.title}"[:300], "\n".join(lines)
