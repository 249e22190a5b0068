"""The measurable clauses of the 4+5+X standard and how each is judged (pure).

Each clause gives ``value``, ``target``, ``unit`` and ``status``: ``pass``, ``fail``,
``pending`` (its unit of time has not ended yet, or a yearly count can still be
reached), ``n/a`` (the complex has no such space or nothing to judge) or ``info`` (the
standard sets no number). ``passed`` is True, False or None accordingly. Units of time
are local: ISO weeks wholly inside the period, calendar months wholly inside it, and the
calendar year up to the period's end for yearly counts. Definitions: docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from facility_server.satisfaction.rates import THRESHOLD_PCT
from facility_server.scorecard.facts import ComplexFacts
from facility_server.utilisation.metrics import Figures
from facility_server.utilisation.periods import months_in, next_month, weeks_in

Clause = dict[str, Any]


def _clause(key: str, service: str, text: str, unit: str, target: float | None) -> Clause:
    return {
        "clause": key,
        "service": service,
        "text": text,
        "unit": unit,
        "target": target,
        "value": None,
        "status": "n/a",
        "passed": None,
        "note": "",
        "detail": {},
    }


def _judge(c: Clause, value: float | None, *, pending: bool = False) -> Clause:
    c["value"] = None if value is None else round(value, 2)
    if value is None:
        c["status"] = "pending" if pending else "n/a"
    elif c["target"] is None:
        c["status"] = "info"
    elif value >= c["target"] - 1e-9:
        c["status"], c["passed"] = "pass", True
    else:
        c["status"] = "pending" if pending else "fail"
        c["passed"] = None if pending else False
    return c


def weekly_quota(
    facts: ComplexFacts, space_type: str, key: str, text: str, kind: str, target: float
) -> Clause:
    """Culture >= 28 h a week / health >= 5 days a week: the lowest judged ended week.

    A space is judged from the first whole week after its start (the earlier of its
    registration and its first recorded use, :mod:`facility_server.scorecard.start`);
    after that a week without data counts as 0. A week whose published hours are below
    the quota only because of holidays or calendar exceptions (the regular week meets
    it) is excused.
    """
    c = _clause(key, space_type, text, "h/week" if kind == "hours" else "days/week", target)
    idx = 0 if kind == "hours" else 1
    weeks, values, since = [], [], {}
    for space in facts.of_type(space_type):
        if space.judged_from is not None:
            since[space.code] = _week_key(space.judged_from)
        for monday in weeks_in(facts.period):
            if monday + timedelta(days=7) > facts.today or not space.judged(monday):
                continue
            planned = space.planned.get(monday, (0.0, 0))[idx]
            excused = planned < target <= space.regular[idx]
            actual = space.weeks.get(monday, (0.0, 0))[idx]
            weeks.append(
                {
                    "space": space.code,
                    "week": _week_key(monday),
                    "value": round(actual, 2),
                    "excused": excused,
                }
            )
            if not excused:
                values.append(actual)
    c["detail"] = {"weeks": weeks, "judged_from": since}
    c["note"] = _weekly_note(kind, since)
    later = any(  # a judged week of the period still to end: pending, else nothing to judge
        space.judged(monday) and monday + timedelta(days=7) > facts.today
        for space in facts.of_type(space_type)
        for monday in weeks_in(facts.period)
    )
    return _judge(c, min(values) if values else None, pending=not values and later)


def _weekly_note(kind: str, since: dict[str, str]) -> str:
    """How a weekly quota is judged, naming the spaces judged from a later week."""
    note = (
        f"Lowest actual open {kind} in an ended ISO week of the period. A space counts from"
        " the first whole week after it started (the earlier of its registration and its"
        " first recorded door count or opening); ended weeks after that without any data"
        " count as 0; weeks short only because of holidays or exceptions are excused."
    )
    if since:
        note += " Judged from: " + ", ".join(f"{code} {week}" for code, week in since.items())
        note += "."
    return note


def _week_key(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def monthly_events(facts: ComplexFacts) -> Clause:
    """Elderly care: at least 1 health lecture or free clinic a month (养老服务
    "每月至少组织1次健康讲座或义诊"): the lowest ended month."""
    c = _clause(
        "elderly_lectures", "elderly_care", "养老服务: 每月至少1次健康讲座或义诊", "events/month", 1
    )
    months, values = [], []
    for space in facts.of_type("elderly_care"):
        dates = space.events.get("activity", [])
        for first in months_in(facts.period):
            if next_month(first) > facts.today:
                continue
            n = sum(1 for d in dates if first <= d < next_month(first))
            months.append({"space": space.code, "month": first.strftime("%Y-%m"), "value": n})
            values.append(n)
    c["detail"] = {"months": months}
    return _judge(
        c,
        min(values) if values else None,
        pending=bool(facts.of_type("elderly_care")) and not values,
    )


def yearly_events(facts: ComplexFacts, space_type: str, key: str, text: str, target: int) -> Clause:
    """A yearly count of activity check-ins (January 1 to the period's end)."""
    c = _clause(key, space_type, text, "events/year", target)
    spaces = facts.of_type(space_type)
    if not spaces:
        return c
    count = sum(len(s.events.get("activity", [])) for s in spaces)
    year = (facts.period.end - timedelta(days=1)).year
    over = date(year + 1, 1, 1) <= facts.today
    c["detail"] = {"year": year, "count": count}
    return _judge(c, float(count), pending=not over)


def maintenance(facts: ComplexFacts) -> Clause:
    """Fitness: equipment maintained regularly (体育健身 "定期维护器材"): by the space's
    maintenance quota rule (default: once a month), the lowest ended unit."""
    c = _clause("equipment_maintenance", "fitness", "体育健身: 定期维护器材", "times/unit", None)
    rows, values = [], []
    for space in facts.of_type("fitness"):
        unit, count = space.maintenance or ("month", 1)
        c["target"], c["unit"] = count, f"times/{unit}"
        dates = space.events.get("maintenance", [])
        for first, end, key in _units(facts, unit):
            n = sum(1 for d in dates if first <= d < end)
            rows.append({"space": space.code, "unit": key, "value": n})
            values.append(n)
    c["detail"] = {"units": rows}
    return _judge(
        c, min(values) if values else None, pending=bool(facts.of_type("fitness")) and not values
    )


def _units(facts: ComplexFacts, unit: str) -> list[tuple[date, date, str]]:
    if unit == "week":
        out = [(m, m + timedelta(days=7), _week_key(m)) for m in weeks_in(facts.period)]
    elif unit == "month":
        out = [(m, next_month(m), m.strftime("%Y-%m")) for m in months_in(facts.period)]
    else:
        first = date(facts.period.first.year, 1, 1)
        out = [(first, first.replace(year=first.year + 1), str(first.year))]
    return [u for u in out if u[1] <= facts.today]


def task_rate(facts: ComplexFacts, kind: str, task: str, key: str, text: str) -> Clause:
    """Children's play: daily disinfection / safety patrol from the compliance
    occurrences: on time / (on time + late + missed) x 100 (%), target 100 %."""
    c = _clause(key, "kids_play", text, "%", 100.0)
    states: dict[str, int] = {}
    for space in facts.of_type("kids_play"):
        for state, n in space.tasks.get((kind, task), {}).items():
            states[state] = states.get(state, 0) + n
    decided = sum(states.get(s, 0) for s in ("on_time", "late", "missed"))
    c["detail"] = {"states": states}
    value = 100.0 * states.get("on_time", 0) / decided if decided else None
    return _judge(c, value, pending=bool(states) and not decided)


def satisfaction(facts: ComplexFacts, min_votes: int) -> Clause:
    """Every service >= 80% satisfied (management rules): the lowest service's rate
    among services with at least ``min_votes`` votes."""
    c = _clause("satisfaction", "all", "各服务项目满意度不低于80%", "%", THRESHOLD_PCT)
    services = [
        {"space": s.code, "type": s.type, **s.tally.as_json()}
        for s in facts.spaces
        if s.tally.votes
    ]
    rated = [s.tally.rate_pct for s in facts.spaces if s.tally.votes >= min_votes]
    c["detail"] = {"services": services, "min_votes": min_votes}
    return _judge(c, min(r for r in rated if r is not None) if rated else None)


def utilisation(facts: ComplexFacts, target_pct: float | None) -> Clause:
    """Facility utilisation of the complex (occupied hours / open hours, all spaces);
    the standard checks it every half year but sets no number (``info``)."""
    c = _clause("utilisation", "all", "设施利用率", "%", target_pct)
    f = Figures()
    for s in facts.spaces:
        f.add({k: getattr(s.figures, k) for k in ("open_min", "occupied_min", "person_min")})
    c["detail"] = {"per_space": {s.code: _pct(s.figures.utilisation_pct) for s in facts.spaces}}
    return _judge(c, f.utilisation_pct)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def all_clauses(
    facts: ComplexFacts, *, min_votes: int, utilisation_target: float | None = None
) -> list[Clause]:
    """Every measurable clause of the standard for one complex, in the table's order."""
    makers: list[Callable[[], Clause]] = [
        lambda: monthly_events(facts),
        lambda: yearly_events(
            facts, "aid", "job_events", "就业帮扶: 每年至少2场技能提升或促就业活动", 2
        ),
        lambda: weekly_quota(
            facts, "health", "health_days", "健康服务: 每周开放不少于5天", "days", 5
        ),
        lambda: yearly_events(
            facts, "fitness", "sports_events", "体育健身: 每年不少于4次社区运动会或培训", 4
        ),
        lambda: maintenance(facts),
        lambda: weekly_quota(
            facts, "culture", "culture_hours", "文化休闲: 每周开放不少于28小时", "hours", 28
        ),
        lambda: task_rate(
            facts, "daily", "disinfection", "kids_disinfection", "儿童憩戏: 每日消毒清洁设施"
        ),
        lambda: task_rate(facts, "patrol", "patrol", "kids_patrol", "儿童憩戏: 安排专人安全巡查"),
        lambda: satisfaction(facts, min_votes),
        lambda: utilisation(facts, utilisation_target),
    ]
    return [make() for make in makers]
