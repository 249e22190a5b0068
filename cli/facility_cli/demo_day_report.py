"""The simulated day's summary, read back from the server database (JSON-ready).

Everything is what the server stored while the stepped clock ran
(:mod:`facility_cli.demo_day`): the occurrences of the play area's rules that day, the
task alerts with their detail (what, where, since when, who is responsible), the
escalations, acknowledgements and the notification outbox. Times are local wall-clock
``HH:MM`` of the complex's zone (Asia/Shanghai) on the simulated day.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from facility_server.alerts import LEVELS

from facility_cli.demo_day import DayLog
from facility_cli.demo_day_script import CHECKIN_TERMINAL, HEARTBEAT_S, KIDS_SPACE, DayScript


def _hm(value: datetime | int | None, tz: ZoneInfo) -> str | None:
    """Local ``HH:MM`` of an instant (tz-aware datetime or UTC ms); None stays None."""
    if value is None:
        return None
    if isinstance(value, int):
        value = datetime.fromtimestamp(value / 1000, tz)
    return value.astimezone(tz).strftime("%H:%M")


def _occurrences(session: Any, cx_id: int, script: DayScript, tz: ZoneInfo) -> list[dict[str, Any]]:
    from facility_server.models import Space, TaskOccurrence, TaskRule
    from sqlalchemy import select

    rows = session.execute(
        select(TaskOccurrence, TaskRule.code)
        .join(TaskRule, TaskRule.id == TaskOccurrence.rule_id)
        .join(Space, Space.id == TaskOccurrence.space_id)
        .where(
            TaskOccurrence.complex_id == cx_id,
            Space.code == KIDS_SPACE,
            TaskOccurrence.day == script.day,
        )
        .order_by(TaskOccurrence.start_ms, TaskRule.code)
    ).all()
    return [
        {
            "rule": code,
            "key": o.key,
            "due": _hm(o.start_ms, tz),
            "deadline": _hm(o.deadline_ms, tz),
            "alert_at": _hm(o.alert_ms, tz),
            "state": o.state,
            "done": _hm(o.done_ms, tz),
            "missing": list(o.missing),
            "reason": o.reason,
        }
        for o, code in rows
    ]


def _alert(a: Any, tz: ZoneInfo) -> dict[str, Any]:
    d = a.detail
    who = d.get("responsible") or {}
    return {
        "id": a.id,
        "kind": a.kind,
        "title": a.title,
        "rule": d.get("rule"),
        "what": f"{d.get('task')}: {d.get('rule_name') or d.get('rule')}",
        "occurrence": a.occurrence,
        "where": f"{d.get('complex_name')} / {d.get('space_name')} ({d.get('space')})",
        "space": f"{d.get('space_name')} ({d.get('space')})",
        "since": d.get("deadline"),
        "opened_at": _hm(a.opened_at, tz),
        "responsible": {"code": who.get("code"), "name": who.get("name")} if who else None,
        "missing": [m["code"] for m in d.get("missing", [])],
        "severity": a.severity,
        "state": a.state,
        "escalation_level": LEVELS[a.escalation_level],
        "acknowledged_at": _hm(a.acknowledged_at, tz),
        "acknowledged_by": a.acknowledged_by,
    }


def _outbox(session: Any, tz: ZoneInfo) -> list[dict[str, Any]]:
    from facility_server.models import Notification
    from sqlalchemy import select

    return [
        {
            "alert_id": n.alert_id,
            "event": n.event,
            "channel": n.channel,
            "recipient": n.recipient,
            "at": _hm(n.created_at, tz),
            "state": n.state,
        }
        for n in session.scalars(select(Notification).order_by(Notification.id))
    ]


def _as_planned(
    script: DayScript, occs: list[dict[str, Any]], alerts: list[dict[str, Any]], log: DayLog
) -> bool:
    """The story happened: the two planned misses (the round naming its checkpoint), every
    other round on time, one alert each and nothing else, one escalation by one level."""
    planned = {script.disinfection_key, script.skipped_round}
    states = {o["key"]: (o["state"], o["missing"]) for o in occs}
    misses_ok = states.get(script.disinfection_key, ("",))[0] == "missed" and states.get(
        script.skipped_round
    ) == ("missed", [script.skipped_checkpoint])
    others_ok = all(s == "on_time" for k, (s, _) in states.items() if k not in planned)
    alerts_ok = sorted(a["occurrence"] for a in alerts) == sorted(planned)
    steps = [(e["from"], e["to"]) for e in log.escalations]
    return misses_ok and others_ok and alerts_ok and steps == [(0, 1)]


def _simulated(script: DayScript, log: DayLog, step_min: int, tz: ZoneInfo) -> dict[str, Any]:
    """How the day was simulated: the stepped clock and the terminal."""
    return {
        "clock": "stepped",
        "step_min": step_min,
        "from": _hm(script.start, tz),
        "to": _hm(script.end, tz),
        "steps": log.steps,
        "terminal": CHECKIN_TERMINAL,
        "heartbeat_s": HEARTBEAT_S,
        "statuses_stored": log.statuses,
    }


def _people(log: DayLog, alerts: list[dict[str, Any]], tz: ZoneInfo) -> dict[str, Any]:
    """Escalations (level names) and acknowledgements, local times."""
    rule = {a["id"]: a["rule"] for a in alerts}
    return {
        "escalations": [
            {
                "alert_id": e["alert_id"],
                "rule": rule.get(e["alert_id"]),
                "from": LEVELS[e["from"]],
                "to": LEVELS[e["to"]],
                "at": _hm(e["at"], tz),
            }
            for e in log.escalations
        ],
        "acknowledgements": [
            {"alert_id": a["alert_id"], "rule": a["rule"], "by": a["by"], "at": _hm(a["at"], tz)}
            for a in log.acks
        ],
    }


def day_report(
    session: Any,
    cx: dict[str, Any],
    script: DayScript,
    log: DayLog,
    contacts: list[dict[str, str]],
    step_min: int,
) -> dict[str, Any]:
    """The summary of the simulated day (see the module docstring)."""
    from facility_server.models import Alert
    from sqlalchemy import select

    tz = ZoneInfo(cx["timezone"])
    occs = _occurrences(session, cx["id"], script, tz)
    everything = [_alert(a, tz) for a in session.scalars(select(Alert).order_by(Alert.id))]
    alerts = [a for a in everything if a["occurrence"] in {o["key"] for o in occs}]
    outbox = _outbox(session, tz)
    return {
        "space": KIDS_SPACE,
        "day": script.day.isoformat(),
        "weekday": script.day.strftime("%A"),
        "simulated": _simulated(script, log, step_min, tz),
        "opening": f"{_hm(script.opens, tz)}-{_hm(script.closes, tz)}",
        "disinfection": "nobody tapped",
        "skipped_round": script.skipped_round,
        "skipped_checkpoint": script.skipped_checkpoint,
        "checkins_reported": len(script.taps),
        "checkins_stored": log.checkins,
        "rules": script.rules,
        "occurrences": occs,
        "alerts": alerts,
        "other_alerts": [a for a in everything if a not in alerts],
        **_people(log, everything, tz),
        "escalation_contacts": contacts,
        "notifications": outbox,
        "notifications_by_channel": dict(Counter(n["channel"] for n in outbox)),
        "notifications_sent": sum(n["state"] == "sent" for n in outbox),
        "as_planned": _as_planned(script, occs, alerts, log),
    }


def render_day(console: Any, tasks: dict[str, Any]) -> None:
    """Print the simulated day: occurrences, task alerts, escalation and outbox."""
    from rich.markup import escape
    from rich.table import Table

    sim = tasks["simulated"]
    table = Table(
        title=f"Children's play area, {tasks['day']} ({tasks['weekday']}): a simulated day",
        caption=(
            f"Clock stepped every {sim['step_min']} min from {sim['from']} to {sim['to']}; "
            f"terminal {sim['terminal']} online all day; disinfection: "
            f"{tasks['disinfection']}; {tasks['skipped_round'][11:]} round: "
            f"{tasks['skipped_checkpoint']} skipped."
        ),
    )
    for col in ("rule", "due", "deadline", "alert at", "state", "done", "missing / why"):
        table.add_column(col)
    for o in tasks["occurrences"]:
        colour = {"missed": "red", "late": "yellow", "on_time": "green"}.get(o["state"], "white")
        why = ", ".join(o["missing"]) + (f" ({o['reason']})" if o["reason"] else "")
        table.add_row(
            o["rule"],
            o["due"],
            o["deadline"],
            o["alert_at"],
            f"[{colour}]{o['state']}[/{colour}]",
            o["done"] or "-",
            escape(why),
        )
    console.print(table)
    _render_alerts(console, tasks)


def _render_alerts(console: Any, tasks: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Task alerts of the simulated day (opened at deadline + grace)")
    for col in ("#", "what", "where", "since", "opened", "responsible", "acknowledged"):
        table.add_column(col)
    for a in tasks["alerts"]:
        who = a["responsible"] or {}
        what = f"{a['rule']} {a['occurrence'][11:]}".strip()
        what += f"\nmissed {', '.join(a['missing'])}" if a["missing"] else ""
        acked = (
            f"{a['acknowledged_at']} by {a['acknowledged_by']}" if a["acknowledged_at"] else "no"
        )
        table.add_row(
            str(a["id"]),
            escape(what),
            escape(a["space"]),
            (a["since"] or "-").removeprefix(f"{tasks['day']} "),
            a["opened_at"],
            escape(f"{who.get('name') or '?'} ({who.get('code')})"),
            escape(f"{acked}\n(level: {a['escalation_level']})"),
        )
    console.print(table)
    _render_outbox(console, tasks)


def _render_outbox(console: Any, tasks: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    rules = tasks["rules"]
    for e in tasks["escalations"]:
        after = rules.get(e["rule"], {}).get("escalate_after_min")
        console.print(
            f"Escalation: alert #{e['alert_id']} ({e['rule']}) went from {e['from']} to "
            f"{e['to']} at {e['at']}: not acknowledged within {after} min."
        )
    table = Table(title="Notifications enqueued (outbox; the demo sends nothing)")
    for col in ("alert", "event", "at", "channel", "recipient", "state"):
        table.add_column(col)
    for n in tasks["notifications"]:
        table.add_row(
            f"#{n['alert_id']}",
            n["event"],
            n["at"],
            n["channel"],
            escape(n["recipient"]),
            n["state"],
        )
    console.print(table)


def day_line(tasks: dict[str, Any]) -> str:
    """One line on the simulated day, for the end of the summary."""
    channels = ", ".join(f"{k} {v}" for k, v in sorted(tasks["notifications_by_channel"].items()))
    steps = "; ".join(f"{e['from']} -> {e['to']} at {e['at']}" for e in tasks["escalations"])
    text = (
        f"Simulated day {tasks['day']} (stepped clock): {len(tasks['alerts'])} task alerts, "
        f"{len(tasks['escalations'])} escalation ({steps or 'none'}), "
        f"{len(tasks['notifications'])} notifications enqueued ({channels or 'none'}), "
        f"{tasks['notifications_sent']} sent"
    )
    if tasks["other_alerts"]:
        text += f"; {len(tasks['other_alerts'])} other alerts"
    return text + "."
