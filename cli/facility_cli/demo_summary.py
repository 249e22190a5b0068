"""The demo's summary: per-space visits from the point store against the replayed file.

Visits are people counted entering a space ("in" crossings); days and hours are local
to the complex's time zone. ``matches_file`` compares what was stored with the replayed
CalIt2 slots' own counts.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


def _space_summary(plan: Any, points: list[Any], tz: ZoneInfo) -> dict[str, Any]:
    days: Counter[str] = Counter()
    hours: Counter[int] = Counter()
    visits = exits = 0
    for p in points:
        local = datetime.fromtimestamp(p.time_ns / 1e9, tz)
        fields = p.field_dict()
        n_in = int(fields["in"])
        visits += n_in
        exits += int(fields["out"])
        days[local.date().isoformat()] += n_in
        hours[local.hour] += n_in
    exp_in = sum(s.people_in for s in plan.slots)
    exp_out = sum(s.people_out for s in plan.slots)
    first, last = plan.slots[0].start, plan.slots[-1].end
    n_days = max(1, (last.date() - first.date()).days)
    busiest = days.most_common(1)[0] if days else ("", 0)
    peak = hours.most_common(1)[0] if hours else (0, 0)
    return {
        "space": plan.space,
        "name": plan.space_name,
        "type": plan.space_type,
        "device": plan.device,
        "capacity": plan.capacity,
        "replayed": {"from": first.date().isoformat(), "to": last.date().isoformat()},
        "visits": visits,
        "exits": exits,
        "expected_visits": exp_in,
        "expected_exits": exp_out,
        "matches_file": (visits, exits) == (exp_in, exp_out),
        "mean_daily_visits": round(visits / n_days, 1),
        "busiest_day": {"date": busiest[0], "visits": busiest[1]},
        "peak_hour": {"hour": f"{peak[0]:02d}:00", "visits": peak[1]},
    }


def summarise(
    *,
    cx: dict[str, Any],
    plans: list[Any],
    store: Any,
    gateway: dict[str, Any],
    edge_depth: int,
    health: dict[str, Any],
    elapsed_s: float,
) -> dict[str, Any]:
    """Build the JSON-ready summary."""
    tz = ZoneInfo(cx["timezone"])
    spaces = []
    for plan in plans:
        pts = store.points("door_crossing", tags={"site": cx["site"], "device": plan.device})
        spaces.append(_space_summary(plan, pts, tz))
    counters = gateway.get("counters", gateway)
    events = store.count("door_crossing") + store.count("device_notice")
    totals = {
        k: sum(s[k] for s in spaces)
        for k in ("visits", "exits", "expected_visits", "expected_exits")
    }
    return {
        "complex": cx,
        "spaces": spaces,
        "totals": totals,
        "pipeline": {
            "events_stored": events,
            "duplicates_dropped": int(counters.get("duplicate", 0)),
            "rejected": counters.get("rejected", {}),
            "edge_outbox_left": edge_depth,
            "elapsed_s": round(elapsed_s, 1),
            "all_stored_exactly": all(s["matches_file"] for s in spaces) and edge_depth == 0,
        },
        "device_health": health,
    }


def render(result: dict[str, Any]) -> None:
    """Print the summary as a table and a few lines (fits 80 columns)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    cx, spaces = result["complex"], result["spaces"]
    first = min(s["replayed"]["from"] for s in spaces)
    last = max(s["replayed"]["to"] for s in spaces)
    console.print(f"[bold]{cx['name']}[/bold] ({cx['site']}, {cx['timezone']})")
    console.print(
        f"Each door counter replayed a different week of real CalIt2 traffic, "
        f"re-timed to {first} .. {last}."
    )
    table = Table(title="Visits per space (people entering)")
    for col, just in (
        ("space", "left"),
        ("visits", "right"),
        ("file", "right"),
        ("ok", "left"),
        ("per day", "right"),
        ("busiest day", "left"),
        ("peak hour", "left"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for s in spaces:
        table.add_row(
            s["space"],
            str(s["visits"]),
            str(s["expected_visits"]),
            "yes" if s["matches_file"] else "[red]NO[/red]",
            str(s["mean_daily_visits"]),
            f"{s['busiest_day']['date'][5:]} ({s['busiest_day']['visits']})",
            f"{s['peak_hour']['hour']} ({s['peak_hour']['visits']})",
        )
    console.print(table)
    t, p, h = result["totals"], result["pipeline"], result["device_health"]
    console.print(
        f"Visits {t['visits']} (file {t['expected_visits']}), "
        f"exits {t['exits']} (file {t['expected_exits']})."
    )
    console.print(
        f"Pipeline: {p['events_stored']} events stored, {p['duplicates_dropped']} duplicates "
        f"dropped, rejected: {p['rejected'] or 'none'}, edge outbox left: "
        f"{p['edge_outbox_left']}, {p['elapsed_s']} s."
    )
    console.print(
        f"Device health: {h.get('online', 0)} online, {h.get('offline', 0)} offline, "
        f"{h.get('never_seen', 0)} never seen, of {h.get('devices', 0)} devices; "
        f"open alerts: {len(h.get('open_alerts', []))}."
    )
    ok = p["all_stored_exactly"]
    console.print(
        "[green]All replayed traffic stored exactly.[/green]"
        if ok
        else "[red]Stored counts differ from the replayed file.[/red]"
    )
