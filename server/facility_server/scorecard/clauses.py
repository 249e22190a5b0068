"""The measurable clauses of the 4+5+X standard and how each is judged (pure).

Each clause gives ``value``, ``target``, ``unit`` and ``status``: ``pass``, ``fail``,
``pending`` (its unit of time has not ended yet, or a yearly count can still be
reached), ``insufficient`` (a task rate with too few decided occurrences to pass),
``n/a`` (the complex has no such space or nothing to judge) or ``info`` (the standard
sets no number). ``passed`` is True, False or None accordingly. Units of time
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
from facility_server.utilisation.periods import months_in, unit_after, weeks_in

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
    weeks, values, since, later = [], [], {}, False
    for space in facts.of_type(space_type):
        if space.judged_from is not None:
            since[space.code] = _week_key(space.judged_from)
        for monday in weeks_in(facts.period):
            if not space.judged(monday):
                continue
            if monday + timedelta(days=7) > facts.today:
                later = True  # a judged week still to end: pending, not "nothing to judge"
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
    return _judge(c, min(values) if values else None, pending=not values and later)


def _weekly_note(kind: str, since: dict[str, str]) -> str:
    """How a weekly quota is judged (Chinese, as the clause texts), naming the spaces
    judged from a later week."""
    what = "开放小时数" if kind == "hours" else "开放天数"
    note = f"取已结束ISO周的最低实际{what}; 因节假日或例外不足的周免评; 启用后无数据的周计0"
    return note + _since_note(since)


def _since_note(since: dict[str, str]) -> str:
    """``; 自启用后第一个完整周期起评: culture 2026-W29`` (empty when none started late)."""
    if not since:
        return ""
    return "; 自启用后第一个完整周期起评: " + ", ".join(f"{k} {v}" for k, v in since.items())


def _week_key(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def monthly_events(facts: ComplexFacts) -> Clause:
    """Elderly care: at least 1 health lecture or free clinic a month (养老服务
    "每月至少组织1次健康讲座或义诊"): the lowest ended month judged (from the first whole
    month after the space's start, :mod:`facility_server.scorecard.start`)."""
    c = _clause(
        "elderly_lectures", "elderly_care", "养老服务: 每月至少1次健康讲座或义诊", "events/month", 1
    )
    spaces = facts.of_type("elderly_care")
    rows, values, later = _unit_counts(facts, spaces, "month", "activity", _units(facts, "month"))
    c["detail"] = {"months": [{**r, "month": r.pop("unit")} for r in rows]}
    c["note"] = "取已结束自然月的最低次数" + _since_note(_unit_since(spaces, "month"))
    return _judge(c, min(values) if values else None, pending=not values and later)


def _unit_counts(
    facts: ComplexFacts,
    spaces: list[Any],
    unit: str,
    task: str,
    units: list[tuple[date, date, str]],
) -> tuple[list[dict[str, Any]], list[int], bool]:
    """Check-ins of ``task`` per judged ended unit: (rows, counts, whether a judged unit is
    still to end). Units before a space's first judged unit are left out."""
    rows, values, later = [], [], False
    for space in spaces:
        dates = space.events.get(task, [])
        for first, end, key in units:
            if not space.unit_judged(first, unit):
                continue
            if end > facts.today:
                later = True
                continue
            n = sum(1 for d in dates if first <= d < end)
            rows.append({"space": space.code, "unit": key, "value": n})
            values.append(n)
    return rows, values, later


def _unit_since(spaces: list[Any], unit: str) -> dict[str, str]:
    """Space code -> first judged unit's key, for spaces started during the period."""
    return {s.code: _unit_key(s.unit_from[unit], unit) for s in spaces if unit in s.unit_from}


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
    c["note"] = f"{year}年1月1日至期末累计; 年度结束前未达标为待定"
    return _judge(c, float(count), pending=not over)


def maintenance(facts: ComplexFacts) -> Clause:
    """Fitness: equipment maintained regularly (体育健身 "定期维护器材"): by the space's
    maintenance quota rule (default: once a month), the lowest ended unit judged (from the
    first whole unit after the space's or rule's start)."""
    c = _clause("equipment_maintenance", "fitness", "体育健身: 定期维护器材", "times/unit", None)
    rows: list[dict[str, Any]] = []
    values: list[int] = []
    later, since = False, {}
    for space in facts.of_type("fitness"):
        unit, count = space.maintenance or ("month", 1)
        c["target"], c["unit"] = count, f"times/{unit}"
        r, v, pending = _unit_counts(facts, [space], unit, "maintenance", _units(facts, unit))
        rows, values, later = rows + r, values + v, later or pending
        since.update(_unit_since([space], unit))
    c["detail"] = {"units": rows}
    c["note"] = "取已结束周期的最低维护次数" + _since_note(since)
    return _judge(c, min(values) if values else None, pending=not values and later)


def _unit_key(first: date, unit: str) -> str:
    """``2026-W23``, ``2026-06`` or ``2026``: the key of the unit starting on ``first``."""
    if unit == "week":
        return _week_key(first)
    return first.strftime("%Y-%m") if unit == "month" else str(first.year)


def _units(facts: ComplexFacts, unit: str) -> list[tuple[date, date, str]]:
    """(first day, next unit's first day, key) of each ``week``, ``month`` (wholly in the
    period) or ``year`` (the period's) unit."""
    if unit == "week":
        firsts = list(weeks_in(facts.period))
    elif unit == "month":
        firsts = list(months_in(facts.period))
    else:
        firsts = [date(facts.period.first.year, 1, 1)]
    return [(first, unit_after(first, unit), _unit_key(first, unit)) for first in firsts]


#: Fewest decided occurrences (on time, late, missed) of those due for a task rate to
#: pass; below it the clause is ``insufficient`` (a terminal outage proves nothing).
MIN_COVERAGE_PCT = 80.0


def task_rate(facts: ComplexFacts, kind: str, task: str, key: str, text: str) -> Clause:
    """Children's play: daily disinfection / safety patrol from the compliance
    occurrences: on time / (on time + late + missed) x 100 (%), target 100 %.

    Coverage = decided / due (due = decided + unknown; excused and pending not due). A
    rate under 100 % fails on the decided evidence alone; a rate of 100 % passes only when
    coverage >= :data:`MIN_COVERAGE_PCT`, else the status is ``insufficient``.
    """
    c = _clause(key, "kids_play", text, "%", 100.0)
    states: dict[str, int] = {}
    for space in facts.of_type("kids_play"):
        for state, n in space.tasks.get((kind, task), {}).items():
            states[state] = states.get(state, 0) + n
    decided = sum(states.get(s, 0) for s in ("on_time", "late", "missed"))
    due = decided + states.get("unknown", 0)
    coverage = 100.0 * decided / due if due else None
    c["detail"] = {"states": states, "decided": decided, "due": due, "coverage_pct": coverage}
    if due:
        c["note"] = f"已判定 {decided}/{due} 次 (覆盖率 {coverage:.0f}%)"
    value = 100.0 * states.get("on_time", 0) / decided if decided else None
    _judge(c, value, pending=bool(states) and not decided)
    if c["status"] == "pass" and coverage is not None and coverage < MIN_COVERAGE_PCT:
        c["status"], c["passed"] = "insufficient", None
        c["note"] += f", 低于 {MIN_COVERAGE_PCT:.0f}%: 证据不足"
    return c


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
    c["note"] = f"取投票数不少于{min_votes}的服务中最低满意率"
    return _judge(c, min(r for r in rated if r is not None) if rated else None)


def utilisation(facts: ComplexFacts, target_pct: float | None) -> Clause:
    """Facility utilisation of the complex (occupied hours / open hours, all spaces);
    the standard checks it every half year but sets no number (``info``)."""
    c = _clause("utilisation", "all", "设施利用率", "%", target_pct)
    f = Figures()
    for s in facts.spaces:
        f.add({k: getattr(s.figures, k) for k in ("open_min", "occupied_min", "person_min")})
    c["detail"] = {"per_space": {s.code: _pct(s.figures.utilisation_pct) for s in facts.spaces}}
    c["note"] = "全部空间占用小时/开放小时; 标准未设目标值"
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
