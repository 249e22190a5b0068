"""Gather the scorecard's facts for many complexes at once (batched Core selects):
utilisation day rows, published hours, activity and maintenance check-ins, the
compliance occurrences of task rules (issue 5's engine output), satisfaction votes, and
when the spaces with a weekly quota started (:mod:`facility_server.scorecard.start`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import local_ms
from facility_server.compliance.rules import QuotaRule, parse_rule
from facility_server.models import CheckIn, TaskOccurrence, TaskRule
from facility_server.opening import local_intervals, weekly_open_days, weekly_open_hours
from facility_server.satisfaction.rectify import service_tallies
from facility_server.scorecard.facts import ComplexFacts, SpaceFacts
from facility_server.scorecard.start import first_judged_unit, first_judged_week, space_starts
from facility_server.utilisation.actual import QUOTAS
from facility_server.utilisation.load import SpaceRef, load_spaces, to_datetime
from facility_server.utilisation.metrics import Figures
from facility_server.utilisation.periods import Period, week_start
from facility_server.utilisation.summary import day_rows

_BATCH = 500
UNIT_QUOTAS = ("elderly_care", "fitness")  # monthly lecture, maintenance quota


def _weeks(rows: Sequence[dict[str, Any]]) -> dict[date, tuple[float, int]]:
    out: dict[date, list[float]] = defaultdict(lambda: [0.0, 0])
    for r in rows:
        w = out[week_start(r["day"])]
        w[0] += r["actual_open_min"] / 60
        w[1] += int(r["actual_open_min"] > 0)
    return {k: (v[0], int(v[1])) for k, v in out.items()}


def _planned(space: SpaceRef, period: Period) -> dict[date, tuple[float, int]]:
    out: dict[date, list[float]] = defaultdict(lambda: [0.0, 0])
    for day in period.dates():
        ivs = local_intervals(space.schedule, day)
        w = out[week_start(day)]
        w[0] += sum(e - s for s, e in ivs) / 60
        w[1] += int(bool(ivs))
    return {k: (v[0], int(v[1])) for k, v in out.items()}


def _events(
    session: Session, spaces: dict[int, SpaceRef], lo: date, hi: date
) -> dict[int, dict[str, list[date]]]:
    """Space id -> task -> local dates of accepted activity/maintenance check-ins."""
    out: dict[int, dict[str, list[date]]] = defaultdict(lambda: defaultdict(list))
    ids = list(spaces)
    lo_ms = min((local_ms(s.tz, lo, 0) for s in spaces.values()), default=0)
    hi_ms = max((local_ms(s.tz, hi, 0) for s in spaces.values()), default=0)
    for i in range(0, len(ids), _BATCH):
        stmt = select(CheckIn.space_id, CheckIn.task, CheckIn.ts_ms).where(
            CheckIn.space_id.in_(ids[i : i + _BATCH]),
            CheckIn.accepted,
            CheckIn.task.in_(("activity", "maintenance")),
            CheckIn.ts_ms >= lo_ms,
            CheckIn.ts_ms < hi_ms,
        )
        for sid, task, ts_ms in session.execute(stmt):
            day = to_datetime(ts_ms).astimezone(spaces[sid].tz).date()
            if lo <= day < hi:
                out[sid][task].append(day)
    return out


def _tasks(
    session: Session, complex_ids: list[int], period: Period
) -> dict[int, dict[tuple[str, str], Counter[str]]]:
    """Space id -> (rule kind, task) -> occurrence states over the period's days."""
    out: dict[int, dict[tuple[str, str], Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for i in range(0, len(complex_ids), _BATCH):
        stmt = (
            select(
                TaskOccurrence.space_id,
                TaskRule.kind,
                TaskRule.task,
                TaskOccurrence.state,
                func.count(),
            )
            .join(TaskRule, TaskRule.id == TaskOccurrence.rule_id)
            .where(
                TaskOccurrence.complex_id.in_(complex_ids[i : i + _BATCH]),
                TaskOccurrence.day >= period.first,
                TaskOccurrence.day < period.end,
                TaskRule.kind.in_(("daily", "patrol")),
            )
            .group_by(TaskOccurrence.space_id, TaskRule.kind, TaskRule.task, TaskOccurrence.state)
        )
        for sid, kind, task, state, n in session.execute(stmt):
            out[sid][(kind, task)][state] += n
    return out


def _maintenance_rules(
    session: Session, space_ids: list[int]
) -> dict[int, tuple[str, int, datetime]]:
    """Space id -> (unit, count, created_at) of its maintenance quota rule."""
    out: dict[int, tuple[str, int, datetime]] = {}
    stmt = select(TaskRule.space_id, TaskRule.params, TaskRule.created_at).where(
        TaskRule.enabled,
        TaskRule.task == "maintenance",
        TaskRule.kind == "quota",
        TaskRule.space_id.in_(space_ids),
    )
    for sid, params, created in session.execute(stmt):
        rule = parse_rule(params)
        if isinstance(rule, QuotaRule):
            out[sid] = (rule.period, rule.count, created)
    return out


def _earliest(start: date | None, dates: Sequence[date]) -> date | None:
    """A start moved back to the first recorded check-in (None: judged throughout)."""
    return start if start is None or not dates else min(start, dates[0])


def _judged_from(
    facts: SpaceFacts,
    space: SpaceRef,
    start: date | None,
    rule: tuple[str, int, datetime] | None,
    first: date,
) -> None:
    """Set from which unit each quota of the space is judged (:mod:`.start`): the
    weekly opening quota from the space's start; the monthly lecture from the start or
    its first activity check-in; the maintenance quota from the later of the space's
    start and its rule's creation, or its first maintenance check-in."""
    facts.start = start
    if space.type in QUOTAS and start is not None:
        facts.judged_from = first_judged_week(space.schedule, start)
    if space.type == "elderly_care":
        unit, since = "month", _earliest(start, facts.events.get("activity", []))
    elif space.type == "fitness":
        unit, since = (rule[0], start) if rule else ("month", start)
        created = rule[2].astimezone(space.tz).date() if rule else None
        if created is not None and created > first:
            since = created if since is None else max(since, created)
        since = _earliest(since, facts.events.get("maintenance", []))
    else:
        return
    if since is not None and since > first:
        facts.unit_from[unit] = first_judged_unit(space.schedule, since, unit)


def _space_facts(space: SpaceRef, rows: list[dict[str, Any]], period: Period) -> SpaceFacts:
    figures = Figures()
    for r in rows:
        figures.add(r)
    facts = SpaceFacts(
        space.id,
        space.code,
        space.name,
        space.type,
        space.capacity,
        weeks=_weeks(rows),
        figures=figures,
    )
    if space.type in QUOTAS:
        weekly = space.schedule.weekly
        facts.planned = _planned(space, period)
        facts.regular = (weekly_open_hours(weekly), weekly_open_days(weekly))
    return facts


def gather(
    session: Session, complex_ids: Sequence[int], period: Period, now: datetime
) -> list[ComplexFacts]:
    """Facts of each complex over ``period`` as of ``now`` (tz-aware), in id order."""
    spaces = load_spaces(session, complex_ids=complex_ids)
    ids = list(spaces)
    rows = day_rows(session, ids, period.first, period.end)
    year_first = date(period.first.year, 1, 1)
    events = _events(session, spaces, year_first, period.end)
    tasks = _tasks(session, list(complex_ids), period)
    tallies = service_tallies(session, complex_ids, period)
    rules = _maintenance_rules(session, ids)
    quota_spaces = {sid: s for sid, s in spaces.items() if s.type in (*QUOTAS, *UNIT_QUOTAS)}
    starts = space_starts(session, quota_spaces, period.first)
    out: dict[int, ComplexFacts] = {}
    for sid, space in spaces.items():
        cx = out.get(space.complex_id)
        if cx is None:
            today = now.astimezone(space.tz).date()
            cx = out[space.complex_id] = ComplexFacts(
                space.complex_id,
                space.site_id,
                space.complex_name,
                space.street_name,
                space.district_name,
                space.tz,
                period,
                today,
            )
        facts = _space_facts(space, rows.get(sid, []), period)
        facts.events = {k: sorted(v) for k, v in events.get(sid, {}).items()}
        facts.tasks = dict(tasks.get(sid, {}))
        facts.tally = tallies.get(sid, facts.tally)
        rule = rules.get(sid)
        facts.maintenance = rule[:2] if rule else None
        _judged_from(facts, space, starts.get(sid), rule, period.first)
        cx.spaces.append(facts)
    return [out[c] for c in sorted(out)]
