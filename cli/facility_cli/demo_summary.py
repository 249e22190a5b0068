"""The demo's summary: what was measured, against what was replayed.

Visits are people counted entering a space ("in" crossings); days and hours are local to
the complex's time zone. ``matches_file`` compares what was stored with the replayed
CalIt2 slots' own counts. The replayed traffic is a university building's door, so it
does not follow these spaces' opening hours: visits outside opening hours are expected,
and it is busier than these rooms: an occupancy rate above 100 % (mean people inside
while open over the space's capacity) is expected too.

Door traffic is read from the gateway's point store; utilisation is the server's, computed
from the door events its own ingest stored (the demo waits for both; ``server_visits``).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def _space_summary(plan: Any, points: list[Any], tz: ZoneInfo) -> dict[str, Any]:
    days: Counter[str] = Counter()
    hours: Counter[int] = Counter()
    visits = exits = 0
    for p in points:
        local = datetime.fromtimestamp(p.time_ns / 1e9, tz)
        fields = p.field_dict()
        visits += int(fields["in"])
        exits += int(fields["out"])
        days[local.date().isoformat()] += int(fields["in"])
        hours[local.hour] += int(fields["in"])
    first, last = plan.slots[0].start, plan.slots[-1].end - timedelta(minutes=1)
    n_days = (last.date() - first.date()).days + 1
    busiest = days.most_common(1)[0] if days else ("", 0)
    peak = hours.most_common(1)[0] if hours else (0, 0)
    exp_in = sum(s.people_in for s in plan.slots)
    exp_out = sum(s.people_out for s in plan.slots)
    return {
        "space": plan.space,
        "name": plan.space_name,
        "type": plan.space_type,
        "device": plan.device,
        "capacity": plan.capacity,
        "replayed": {
            "first_day": first.date().isoformat(),
            "last_day": last.date().isoformat(),
            "days": n_days,
        },
        "visits": visits,
        "exits": exits,
        "expected_visits": exp_in,
        "expected_exits": exp_out,
        "matches_file": (visits, exits) == (exp_in, exp_out),
        "mean_daily_visits": round(visits / n_days, 1),
        "busiest_day": {"date": busiest[0], "visits": busiest[1]},
        "peak_hour": {"hour": f"{peak[0]:02d}:00", "visits": peak[1]},
    }


def fmt_number(value: Any) -> str:
    """A clause's number as a manager reads it: ``-`` for none, ``2``, ``66.7``, ``100``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{round(value, 1):g}"
    return str(value)


#: What one occurrence of a task-rate clause is, for "0 of 1 days on time".
OCCURRENCES = {"kids_disinfection": "days", "kids_patrol": "rounds"}
_CLAUSE_KEYS = ("clause", "service", "value", "target", "unit", "status", "note")


def scorecard_clause(clause: dict[str, Any]) -> dict[str, Any]:
    """The summary's view of a scorecard clause: its keys of the table, and for a task
    rate (a ``detail`` with ``decided``) the counts behind it, ``on_time`` and ``decided``."""
    out = {k: clause.get(k) for k in _CLAUSE_KEYS}
    detail = clause.get("detail") or {}
    if "decided" in detail:
        out["on_time"] = int(detail.get("states", {}).get("on_time", 0))
        out["decided"] = int(detail["decided"])
    return out


def scorecard_rows(clauses: list[dict[str, Any]]) -> list[list[str]]:
    """Rows (clause, service, value with unit, target with unit, status, note) of the
    demo's scorecard table; ``%`` written as such, other units after the number; a task
    rate also says what it is made of (``0% (0 of 1 days on time)``)."""
    rows = []
    for c in clauses:
        unit = c.get("unit") or ""
        sep = "" if unit == "%" else " "
        value, target = fmt_number(c.get("value")), fmt_number(c.get("target"))
        shown = value if value == "-" else f"{value}{sep}{unit}"
        if c.get("decided"):
            noun = OCCURRENCES.get(str(c.get("clause")), "times")
            shown += f" ({c.get('on_time', 0)} of {c['decided']} {noun} on time)"
        rows.append(
            [
                str(c.get("clause")),
                str(c.get("service")),
                shown,
                target if target == "-" else f"{target}{sep}{unit}",
                str(c.get("status")),
                str(c.get("note") or ""),
            ]
        )
    return rows


def _when(label: str, visits: int) -> str:
    """``11-25 (37)``; ``-`` when nobody came."""
    return f"{label} ({visits})" if visits else "-"


def _utilisation(views: dict[str, Any]) -> list[dict[str, Any]]:
    keys = (
        "space",
        "capacity",
        "visits",
        "peak_occupancy",
        "mean_occupancy",
        "open_h",
        "occupied_h",
        "utilisation_pct",
        "occupancy_pct",
        "drift",
        "clamped",
    )
    return [{k: s.get(k) for k in keys} for s in views["utilisation"].get("spaces", [])]


def summarise(
    *,
    cx: dict[str, Any],
    plans: list[Any],
    store: Any,
    gateway: dict[str, Any],
    edge_depth: int,
    health: dict[str, Any],
    elapsed_s: float,
    activity: dict[str, Any],
    views: dict[str, Any],
    day: dict[str, Any],
    kiosk: dict[str, Any],
    server_visits: int,
) -> dict[str, Any]:
    """Build the JSON-ready summary; ``day`` is the simulated day's
    (:func:`facility_cli.demo_day_report.day_report`), ``kiosk`` the health kiosk's
    morning (:func:`facility_cli.demo_kiosk_report.report`); ``server_visits`` the people
    entering in the door events the server stored (its utilisation's input)."""
    tz = ZoneInfo(cx["timezone"])
    spaces = [
        _space_summary(
            plan,
            store.points("door_crossing", tags={"site": cx["site"], "device": plan.device}),
            tz,
        )
        for plan in plans
    ]
    counters = gateway.get("counters", gateway)
    totals = {
        k: sum(s[k] for s in spaces)
        for k in ("visits", "exits", "expected_visits", "expected_exits")
    }
    card = views["scorecard"]
    return {
        "complex": {k: cx[k] for k in ("site", "name", "timezone")},
        "door_traffic": {"spaces": spaces, "totals": totals},
        "utilisation": {
            "from": views["utilisation"].get("from"),
            "to": views["utilisation"].get("to"),
            "definitions": views["utilisation"].get("definitions", {}),
            "spaces": _utilisation(views),
        },
        "safety_tasks": day,
        "health_kiosk": kiosk,
        "satisfaction_votes": activity["votes"],
        "scorecard": {
            "period": views["scorecard_period"],
            "as_of": card.get("period", {}).get("as_of"),
            "clauses": [scorecard_clause(c) for c in card.get("clauses", [])],
        },
        "pipeline": {
            "events_stored": store.count("door_crossing"),
            "notices_stored": store.count("device_notice"),
            "duplicates_dropped": int(counters.get("duplicate", 0)),
            "rejected": counters.get("rejected", {}),
            "edge_outbox_left": edge_depth,
            "terminal_events_unconfirmed": activity["unconfirmed"],
            "server_visits": server_visits,
            "elapsed_s": round(elapsed_s, 1),
            "all_stored_exactly": all(s["matches_file"] for s in spaces)
            and edge_depth == 0
            and server_visits == totals["expected_visits"],
        },
        "device_health": health,
    }


#: The utilisation table's columns: (heading, key of a space in ``utilisation.spaces``).
UTILISATION_COLUMNS = (
    ("space", "space"),
    ("capacity", "capacity"),
    ("peak", "peak_occupancy"),
    ("mean", "mean_occupancy"),
    ("open h", "open_h"),
    ("occupied h", "occupied_h"),
    ("utilisation %", "utilisation_pct"),
    ("occupancy %", "occupancy_pct"),
)
#: What the utilisation table's figures are (docs/metrics.md, facility_server.utilisation).
UTILISATION_NOTE = (
    "Peak, mean: people inside, at any time and on average while open. Open h: by the "
    "published hours; utilisation % = occupied h (open, someone inside) / open h; "
    "occupancy % = mean / capacity: over 100 when more people than the capacity were "
    "inside on average (the replayed university door is busier than these rooms)."
)


def health_line(h: dict[str, Any]) -> str:
    """The device-health sentence: counts by state, naming the devices offline or never seen
    (``site/code``, from the health tick's summary), and the alerts not resolved by kind."""

    def state(name: str) -> str:
        devices = h.get(f"{name}_devices") or []
        listed = f" ({', '.join(devices)})" if devices else ""
        return f"{h.get(name, 0)} {name.replace('_', ' ')}{listed}"

    unresolved = Counter(a["kind"] for a in h.get("open_alerts", []))
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(unresolved.items()))
    return (
        f"Device health now: {h.get('online', 0)} online, {state('offline')}, "
        f"{state('never_seen')}, of {h.get('devices', 0)} devices; alerts not resolved: "
        f"{sum(unresolved.values())}" + (f" ({kinds})." if kinds else ".")
    )


def utilisation_title(util: dict[str, Any]) -> str:
    """The utilisation table's title with its local days, the last one included
    (``utilisation.to`` is the exclusive end): ``2026-11-22..11-28``."""
    last = date.fromisoformat(util["to"]) - timedelta(days=1)
    return f"Utilisation per space, {util['from']}..{last:%m-%d} (server; docs/metrics.md)"


def utilisation_rows(spaces: list[dict[str, Any]]) -> list[list[str]]:
    """Rows of the utilisation table, numbers written by :func:`fmt_number`."""
    return [[fmt_number(u.get(key)) for _, key in UTILISATION_COLUMNS] for u in spaces]


def _render_utilisation(console: Any, util: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=utilisation_title(util), caption=UTILISATION_NOTE)
    for heading, _ in UTILISATION_COLUMNS:
        space = heading == "space"
        table.add_column(heading, justify="left" if space else "right", no_wrap=space)
    for row in utilisation_rows(util["spaces"]):
        table.add_row(*row)
    console.print(table)


def render(result: dict[str, Any]) -> None:
    """Print the summary as short tables and lines."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from facility_cli.demo_day_report import day_line, render_day
    from facility_cli.demo_kiosk_report import kiosk_line, render_kiosk

    console = Console(width=100)
    cx, traffic = result["complex"], result["door_traffic"]
    spaces = traffic["spaces"]
    console.print(f"[bold]{escape(cx['name'])}[/bold] ({cx['site']}, times in {cx['timezone']})")
    console.print(
        "Door counters replayed real traffic of a university building's door (CalIt2), "
        "re-timed to end before now; it ignores these spaces' opening hours."
    )
    table = Table(title="Door traffic per space (visits = people entering)")
    for col in (
        "space",
        "days replayed",
        "visits",
        "in file",
        "same",
        "per day",
        "busiest day",
        "peak hour",
    ):
        table.add_column(
            col,
            justify="right" if col in {"visits", "in file", "per day"} else "left",
            no_wrap=col == "days replayed",
            min_width=len("2026-11-22..11-28") if col == "days replayed" else None,
        )
    for s in spaces:
        r = s["replayed"]
        table.add_row(
            s["space"],
            f"{r['first_day']}..{r['last_day'][5:]}",
            str(s["visits"]),
            str(s["expected_visits"]),
            "yes" if s["matches_file"] else "[red]NO[/red]",
            str(s["mean_daily_visits"]),
            _when(s["busiest_day"]["date"][5:], s["busiest_day"]["visits"]),
            _when(s["peak_hour"]["hour"], s["peak_hour"]["visits"]),
        )
    console.print(table)
    _render_utilisation(console, result["utilisation"])
    render_day(console, result["safety_tasks"])
    card = result["scorecard"]
    table = Table(
        title=f"Scorecard of the standard's clauses, half-year {card['period']} as of "
        f"{card.get('as_of') or '-'} (the other tables: the replayed days)"
    )
    for col in ("clause", "service", "value", "target", "status", "note"):
        table.add_column(col, overflow="fold", no_wrap=col == "clause")
    for row in scorecard_rows(card["clauses"]):
        table.add_row(*(escape(v) for v in row))
    console.print(table)
    render_kiosk(console, result["health_kiosk"])
    t, p, h = traffic["totals"], result["pipeline"], result["device_health"]
    console.print(
        f"Visits stored {t['visits']} (file {t['expected_visits']}, server "
        f"{p.get('server_visits', '-')}), exits {t['exits']} "
        f"(file {t['expected_exits']}); {p['events_stored']} door events and "
        f"{p.get('notices_stored', 0)} device notices stored, "
        f"{p['duplicates_dropped']} duplicates dropped, rejected: {p['rejected'] or 'none'}; "
        f"events still waiting on the edge: {p['edge_outbox_left']}; {p['elapsed_s']} s."
    )
    console.print(escape(health_line(h)))
    console.print(day_line(result["safety_tasks"]))
    console.print(kiosk_line(result["health_kiosk"]))
    console.print(
        "[green]All replayed door traffic stored exactly.[/green]"
        if p["all_stored_exactly"]
        else "[red]Stored door counts (point store or server) differ from the replayed file.[/red]"
    )
    if not result["safety_tasks"]["as_planned"]:
        console.print("[red]The simulated day did not go as scripted (see the tables).[/red]")
