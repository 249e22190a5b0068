"""The health kiosk's morning, read back from the server and the point store (JSON-ready).

Counts only: sessions, members (distinct per local hour, summed), consented sessions,
readings per type (values kept with consent, counted only without), readings the edge
rejected by reason, crisis sessions, and the crisis alert with the notifications
enqueued for the clinician on duty (contacts with topic ``health``; the demo sends
nothing). The hourly aggregates in the point store (what the kiosk board shows) are
summed too (:func:`series_facts`): an hour with fewer than
:data:`~facility_contracts.schema.KIOSK_MIN_SESSIONS` sessions carries no consent or
crisis count there, so the board may show fewer crisis sessions than the server's
alerts. Then the privacy checks (:mod:`facility_cli.demo_kiosk_scan`): the point store,
the summary itself, the alert and its notifications hold no member reference and no
reading value, and the central broker carried no card number. Times are local to the
complex (Asia/Shanghai).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from facility_contracts.schema import KIOSK_MIN_SESSIONS
from facility_server.alerts import LEVELS

from facility_cli import demo_kiosk_plan as kp
from facility_cli.demo_kiosk_scan import Finding, point_rows, refs_of, scan_points, scan_texts

#: The alert detail keys a crisis alert may have (no value, no member: crisis.py; levels
#: without a health contact: notify.outbox).
_ALERT_DETAIL = ("kiosk", "space", "space_name", "at", "timezone")
_OPTIONAL_DETAIL = ("not_delivered",)


def _usage(session: Any, cx_id: int, first: Any, end: Any) -> dict[str, Any]:
    from facility_server.models import Complex
    from facility_server.vitals.usage import pct, usage_summary

    usage = usage_summary(session, session.get(Complex, cx_id), first, end)
    space = usage["spaces"].get(kp.SPACE, {})
    return {
        **{k: space.get(k, 0) for k in ("sessions", "consented", "crisis")},
        "members": space.get("member_hours", 0),  # distinct per local hour, summed
        "consented_pct": pct(space.get("consented", 0), space.get("sessions", 0)),
        "readings": usage["readings"],
        "rejected": usage["rejected"].get(kp.KIOSK, {}),
        "crisis_alerts": usage["crisis_alerts"],
    }


def _alerts(session: Any, cx_id: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The complex's crisis alerts with their outbox rows, and the texts people read."""
    from facility_server.models import Alert, Contact, Notification
    from facility_server.vitals.crisis import KIND, identified
    from sqlalchemy import select

    out, texts = [], []
    for a in session.scalars(
        select(Alert).where(Alert.kind == KIND, Alert.complex_id == cx_id).order_by(Alert.id)
    ):
        texts += [a.title, json.dumps(a.detail, ensure_ascii=False)]
        notes = []
        for n, c in session.execute(
            select(Notification, Contact)
            .outerjoin(Contact, Contact.id == Notification.contact_id)
            .where(Notification.alert_id == a.id)
            .order_by(Notification.id)
        ):
            texts += [n.title, n.body]
            notes.append(
                {
                    "contact": c.code if c else None,
                    "topics": list(c.topics) if c else [],
                    "recipient": n.recipient,
                    "channel": n.channel,
                    "event": n.event,
                    "state": n.state,
                }
            )
        d = a.detail
        out.append(
            {
                "id": a.id,
                "kind": a.kind,
                "severity": a.severity,
                "title": a.title,
                **{k: d.get(k) for k in _ALERT_DETAIL},
                "identified": identified(session, a.id),  # the session's, not the alert's
                "other_detail": sorted(set(d) - {*_ALERT_DETAIL, *_OPTIONAL_DETAIL}),
                "state": a.state,
                "level": LEVELS[a.escalation_level],
                "notifications": notes,
            }
        )
    return out, texts


def _store_facts(session: Any, cx_id: int, morning: tuple[datetime, datetime]) -> dict[str, Any]:
    """Members and consents at the desk, values kept, visitor hashes still held."""
    from facility_server.compliance.calendar import to_ms
    from facility_server.models import Consent, HourVisitor, Member, Reading
    from sqlalchemy import func, select

    def count(stmt: Any) -> int:
        return int(session.scalar(stmt) or 0)

    start = to_ms(morning[0]) - 3_600_000
    return {
        "enrolled": count(select(func.count()).where(Member.complex_id == cx_id)),
        "consented": count(
            select(func.count())
            .select_from(Consent)
            .join(Member, Member.id == Consent.member_id)
            .where(Member.complex_id == cx_id, Consent.withdrawn_at.is_(None))
        ),
        "values_kept": count(select(func.count()).where(Reading.complex_id == cx_id)),
        "visitor_hashes_left": count(
            select(func.count()).where(
                HourVisitor.complex_id == cx_id,
                HourVisitor.start_ms >= start,
                HourVisitor.start_ms < to_ms(morning[1]),
            )
        ),
    }


def _series(store: Any, site: str, morning: tuple[datetime, datetime]) -> dict[str, int]:
    lo = int((morning[0] - timedelta(hours=1)).timestamp()) * 10**9
    hi = int(morning[1].timestamp()) * 10**9
    sessions = store.points("kiosk_sessions_hourly", start_ns=lo, end_ns=hi, tags={"complex": site})
    readings = store.points("kiosk_readings_hourly", start_ns=lo, end_ns=hi, tags={"complex": site})
    return series_facts([p.field_dict() for p in sessions], len(readings))


def series_facts(sessions: list[dict[str, Any]], readings_points: int) -> dict[str, int]:
    """What the point store holds of the morning, from the fields of its
    ``kiosk_sessions_hourly`` points: ``points`` (with the ``readings_points``), ``hours``,
    ``sessions``; ``published_hours`` carrying consent and crisis counts and the
    ``crisis`` sessions in them (what the kiosk board can show); ``small_published``:
    hours with fewer than :data:`KIOSK_MIN_SESSIONS` sessions that carry either count
    anyway (0 is the rule)."""
    published = [f for f in sessions if "consented" in f or "crisis" in f]
    return {
        "points": len(sessions) + readings_points,
        "hours": len(sessions),
        "sessions": sum(int(f["sessions"]) for f in sessions),
        "published_hours": len(published),
        "crisis": sum(int(f.get("crisis", 0)) for f in published),
        "small_published": sum(int(f["sessions"]) < KIOSK_MIN_SESSIONS for f in published),
    }


def _finding(f: Finding) -> dict[str, int]:
    return {"scanned": f.scanned, "member_refs": f.member_refs, "reading_values": f.reading_values}


def report(part: Any, store: Any, now: datetime) -> dict[str, Any]:
    """The kiosk part's summary (see the module doc); ``part`` is the
    :class:`facility_cli.demo_kiosk.KioskDemo` after its morning, ``store`` the demo's
    point store."""
    summary, alert_texts = _read_back(part, store, now)
    refs = refs_of([e.card for e in part.roster], [e.name for e in part.roster if e.name])
    texts = [json.dumps(summary, ensure_ascii=False), *alert_texts]
    listener = part.listener
    summary["privacy"] = {
        "point_store": _finding(scan_points(point_rows(store.path), refs)),
        "texts": _finding(scan_texts(texts, refs)),
        "central_broker": {
            "messages": listener.messages if listener else 0,
            "with_card": listener.with_card if listener else 0,
        },
    }
    summary["problems"] = problems(summary)
    summary["as_planned"] = not summary["problems"]
    return summary


def _read_back(part: Any, store: Any, now: datetime) -> tuple[dict[str, Any], list[str]]:
    """The summary's counts and alerts from the server and the point store, and the texts
    of the alerts and their notifications."""
    from facility_server.models import Space
    from sqlalchemy import select

    cx, morning = part.cx, part.morning
    today = now.astimezone(part.tz).date()
    with part.factory() as session:
        # rejections are dated when the edge received them (the demo replays the morning now)
        usage = _usage(session, cx["id"], morning[0].date(), today + timedelta(days=1))
        alerts, alert_texts = _alerts(session, cx["id"])
        desk = _store_facts(session, cx["id"], morning)
        space_name = session.scalar(
            select(Space.name).where(Space.complex_id == cx["id"], Space.code == kp.SPACE)
        )
    summary = {
        "kiosk": kp.KIOSK,
        "space": kp.SPACE,
        "space_name": space_name,
        "morning": {
            "day": morning[0].date().isoformat(),
            "weekday": morning[0].strftime("%A"),
            "from": morning[0].strftime("%H:%M"),
            "to": morning[1].strftime("%H:%M"),
        },
        "members": {
            "on_cards": len(part.roster),
            "enrolled": desk["enrolled"],
            "consented": desk["consented"],
        },
        "published": {"sessions": len(part.plan), "confirmed_by_lan_broker": part.confirmed},
        "usage": usage,
        "planned": part.expected,
        "values_kept": desk["values_kept"],
        "visitor_hashes_left": desk["visitor_hashes_left"],
        "alerts": alerts,
        "series": _series(store, cx["site"], morning),
    }
    return summary, alert_texts


def problems(k: dict[str, Any]) -> list[str]:
    """What went against the plan or the privacy rules; empty when all is well."""
    out = kp.differences(k["planned"], k["usage"])
    pub = k["published"]
    if pub["confirmed_by_lan_broker"] != pub["sessions"]:
        out.append(f"LAN broker confirmed {pub['confirmed_by_lan_broker']} of {pub['sessions']}")
    opened = [a for a in k["alerts"] if a["state"] == "open"]
    if len(k["alerts"]) != k["planned"]["crisis"] or len(opened) != len(k["alerts"]):
        out.append(f"crisis alerts: {len(opened)} open of {len(k['alerts'])}, 1 planned")
    for a in k["alerts"]:
        health = [n for n in a["notifications"] if "health" in n["topics"]]
        if not health or any(n["state"] == "sent" for n in a["notifications"]):
            out.append(f"alert #{a['id']}: not enqueued for a health contact, or sent")
        if a["other_detail"]:
            out.append(f"alert #{a['id']}: detail has {a['other_detail']}")
    if k["series"]["sessions"] != k["planned"]["sessions"]:
        out.append(f"point store: {k['series']['sessions']} sessions in the aggregates")
    if k["series"]["small_published"]:
        out.append(
            f"point store: consent or crisis counts of {k['series']['small_published']} "
            f"hour(s) with fewer than {KIOSK_MIN_SESSIONS} sessions"
        )
    p = k["privacy"]
    for where in ("point_store", "texts"):
        if p[where]["member_refs"] or p[where]["reading_values"]:
            out.append(f"{where}: member references or reading values found")
    if p["central_broker"]["with_card"] or k["visitor_hashes_left"]:
        out.append("a card number reached the central broker, or visitor hashes stayed")
    return out


def _cell(counted: object, planned: object) -> str:
    same = counted == planned
    return f"{counted}" if same else f"[red]{counted} (plan {planned})[/red]"


def render_kiosk(console: Any, k: dict[str, Any]) -> None:
    """Print the kiosk's morning: usage, readings per type, the alert, the privacy scan."""
    _render_usage(console, k)
    _render_readings(console, k)
    _render_alert(console, k)
    _render_privacy(console, k)


def _render_usage(console: Any, k: dict[str, Any]) -> None:
    from rich.table import Table

    m, u, plan, mem = k["morning"], k["usage"], k["planned"], k["members"]
    table = Table(
        title=f"Health kiosk {k['kiosk']} in {k['space_name']} ({k['space']}), morning of "
        f"{m['day']} ({m['weekday']}) {m['from']}-{m['to']}: counts only",
        caption=f"{mem['on_cards']} members on cards: {mem['enrolled']} enrolled, "
        f"{mem['consented']} of them with consent to health monitoring; member-hours = "
        "distinct members per hour, summed (no pseudonym is kept past its hour).",
    )
    for col in (
        "sessions",
        "member-hours",
        "with consent",
        "consented share",
        "no consent",
        "crisis",
    ):
        table.add_column(col, justify="right")
    share = "-" if u["consented_pct"] is None else f"{u['consented_pct']} %"
    table.add_row(
        _cell(u["sessions"], plan["sessions"]),
        _cell(u["members"], plan["members"]),
        _cell(u["consented"], plan["consented"]),
        share,
        f"{u['sessions'] - u['consented']} (counted, values not kept)",
        _cell(u["crisis"], plan["crisis"]),
    )
    console.print(table)


def _render_readings(console: Any, k: dict[str, Any]) -> None:
    from facility_contracts.vitals import QUANTITIES
    from rich.markup import escape
    from rich.table import Table

    u, plan = k["usage"], k["planned"]
    table = Table(title="Readings per type (values kept only with consent)")
    for col in ("type", "unit", "LOINC", "readings", "values kept", "counted only", "outside ref."):
        table.add_column(col, justify="left" if col in {"type", "unit", "LOINC"} else "right")
    for t, r in u["readings"].items():
        q = QUANTITIES[t]
        want = plan["readings"].get(t, {})
        outside = "-" if r["outside_reference_pct"] is None else f"{r['outside_reference_pct']} %"
        table.add_row(
            t,
            escape(q.unit),
            q.loinc,
            _cell(r["readings"], want.get("readings")),
            _cell(r["evaluated"], want.get("evaluated")),
            str(r["readings"] - r["evaluated"]),
            f"{r['outside_reference']} ({outside})",
        )
    console.print(table)
    rejected = ", ".join(f"{r} {n}" for r, n in u["rejected"].items()) or "none"
    console.print(
        f"Rejected at the edge (reading_rejected notices, by reason): {rejected}; "
        f"planned {', '.join(f'{r} {n}' for r, n in plan['rejected'].items()) or 'none'}."
    )


def _render_alert(console: Any, k: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    for a in k["alerts"]:
        table = Table(
            title=f"Clinician alert #{a['id']} ({a['kind']}, {a['severity']}): no value, no member",
            show_header=False,
        )
        table.add_column("", style="bold")
        table.add_column("")
        when = str(a["at"] or "")[:16].replace("T", " ")
        member = "identified to the clinician" if a["identified"] else "unidentified (no consent)"
        rows = [
            ("what", "a reading in a crisis range; member " + member),
            ("where", f"{a['space_name']} ({a['space']}), kiosk {a['kiosk']}"),
            ("when", f"{when} {a['timezone']}"),
            ("state", f"{a['state']} (level: {a['level']})"),
        ]
        rows += [
            (
                "routed to",
                f"{n['recipient']} ({n['contact']}, topics: {', '.join(n['topics'])}): "
                f"{n['channel']} {n['event']}, {n['state']} (enqueued, nothing sent)",
            )
            for n in a["notifications"]
        ] or [("routed to", "nobody")]
        for name, text in rows:
            table.add_row(name, escape(text))
        console.print(table)
    if not k["alerts"]:
        console.print("[red]No clinician alert was opened.[/red]")
    console.print(
        "The clinician reads the values and the member through GET /api/v1/vitals/crises/{id} "
        "(clinician role only, audited with a purpose)."
    )


def _render_privacy(console: Any, k: dict[str, Any]) -> None:
    p, s = k["privacy"], k["series"]
    ps, tx, cb = p["point_store"], p["texts"], p["central_broker"]
    console.print(
        f"Vitals runner: {s['points']} hourly aggregate points written ({s['sessions']} sessions "
        f"in them); {k['values_kept']} reading values kept in the server database (consented "
        f"members only, clinician role); visitor hashes of the morning left: "
        f"{k['visitor_hashes_left']}."
    )
    console.print(
        f"Consent and crisis counts published for {s['published_hours']} of {s['hours']} "
        f"hours (an hour with fewer than {KIOSK_MIN_SESSIONS} sessions shows sessions and "
        f"member-hours only): the kiosk board counts {s['crisis']} of the "
        f"{k['usage']['crisis']} crisis session(s); the server's crisis alerts list every one."
    )
    console.print(
        f"Point store scanned ({ps['scanned']} points): {ps['member_refs']} member references, "
        f"{ps['reading_values']} reading values. Summary, alert and notifications scanned "
        f"({tx['scanned']} texts): {tx['member_refs']} member references, "
        f"{tx['reading_values']} reading values. Central broker: {cb['messages']} messages of "
        f"the kiosk, {cb['with_card']} with a card number (cards stay on the LAN broker)."
    )


def kiosk_line(k: dict[str, Any]) -> str:
    """The kiosk's closing line: green when as planned, red with the problems."""
    if not k["as_planned"]:
        return "[red]Health kiosk morning not as planned: " + "; ".join(k["problems"]) + "[/red]"
    u = k["usage"]
    return (
        f"[green]Health kiosk morning as planned: {u['sessions']} sessions, "
        f"{sum(u['rejected'].values())} rejected, {len(k['alerts'])} crisis alert for the "
        "clinician on duty; the summary, the alert and the point store hold no reading "
        "values and no member references.[/green]"
    )
