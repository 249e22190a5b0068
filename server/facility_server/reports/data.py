"""The half-year report's content as plain data (one source for the XLSX and the PDF).

For a complex, a street or a district and a period (``2026H1``): the scorecards and
their roll-up, utilisation per space, actual opening per week against the quotas,
disinfection and patrol compliance (the occurrences of issue 5's engine), event counts,
satisfaction per service with the items under 80% and their rectification status.
Everything comes from one :func:`facility_server.scorecard.gather.gather`, so the tables
and the scorecards cannot disagree. Definitions: docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.models import Complex
from facility_server.satisfaction.models import Rectification
from facility_server.satisfaction.rates import DEFAULT_MIN_VOTES, THRESHOLD_PCT
from facility_server.satisfaction.rectify import evaluate as open_rectifications
from facility_server.scorecard import as_of, card_of, resolve_region, rollup
from facility_server.scorecard.facts import ComplexFacts
from facility_server.scorecard.gather import gather
from facility_server.utilisation.periods import Period, parse_period, weeks_in

ScopeKind = Literal["complex", "street", "district"]
TASKS = (("daily", "disinfection"), ("patrol", "patrol"))
STATE_COLUMNS = ("on_time", "late", "missed", "unknown", "excused")
EVENT_TYPES = ("elderly_care", "aid", "fitness")  # lectures, job events, sports/maintenance


@dataclass
class Table:
    """A titled table: column headers and rows of plain values."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)


@dataclass
class Report:
    """Everything one report shows."""

    title: str
    scope: dict[str, Any]
    period: Period
    generated_at: datetime
    cards: list[dict[str, Any]]
    rollup: list[dict[str, Any]]
    tables: list[Table]


def _complexes(session: Session, kind: ScopeKind, ident: str) -> tuple[dict[str, Any], list[int]]:
    if kind == "complex":
        cx = session.scalar(select(Complex).where(Complex.site_id == ident))
        if cx is None and ident.isdigit():
            cx = session.get(Complex, int(ident))
        if cx is None:
            raise LookupError(f"no complex {ident!r}")
        return {"kind": kind, "id": cx.site_id, "name": cx.name, "timezone": cx.timezone}, [cx.id]
    reg = resolve_region(session, kind, ident)
    column = Complex.street_id if kind == "street" else Complex.district_id
    ids = list(session.scalars(select(Complex.id).where(column == reg.id).order_by(Complex.id)))
    return {"kind": kind, "id": reg.path, "name": reg.name}, ids


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def utilisation_table(facts: list[ComplexFacts]) -> Table:
    """Utilisation per space over the period."""
    t = Table(
        "Utilisation per space",
        [
            "complex",
            "space",
            "name",
            "type",
            "capacity",
            "visits",
            "peak",
            "open_h",
            "occupied_h",
            "actual_open_h",
            "utilisation_pct",
            "occupancy_pct",
            "drift",
            "clamped",
        ],
    )
    for cx in facts:
        for s in cx.spaces:
            f = s.figures
            t.rows.append(
                [
                    cx.site_id,
                    s.code,
                    s.name,
                    s.type,
                    s.capacity,
                    f.visits,
                    f.peak,
                    round(f.open_min / 60, 2),
                    round(f.occupied_min / 60, 2),
                    round(f.actual_open_min / 60, 2),
                    _pct(f.utilisation_pct),
                    _pct(f.occupancy_pct(s.capacity)),
                    f.drift,
                    f.clamped,
                ]
            )
    return t


def opening_table(facts: list[ComplexFacts]) -> Table:
    """Actual opening per ISO week of the spaces with a quota (culture, health), judged as
    the scorecard: ``met``, ``not met``, ``excused`` (short only by holidays or
    exceptions), ``pending`` (not ended as of the report) or ``before start``."""
    t = Table(
        "Actual opening per week against the quotas",
        [
            "complex",
            "space",
            "type",
            "week",
            "actual_open_h",
            "open_days",
            "planned_h",
            "planned_days",
            "quota",
            "status",
        ],
    )
    quotas = {"culture": (0, 28.0, "hours >= 28"), "health": (1, 5.0, "days >= 5")}
    for cx in facts:
        for s in cx.spaces:
            if s.type not in quotas:
                continue
            idx, target, text = quotas[s.type]
            for monday in weeks_in(cx.period):
                actual, planned = s.weeks.get(monday, (0.0, 0)), s.planned.get(monday, (0.0, 0))
                status = "met" if actual[idx] >= target - 1e-9 else "not met"
                if status == "not met" and planned[idx] < target <= s.regular[idx]:
                    status = "excused"
                if monday + timedelta(days=7) > cx.today:  # as the scorecard: not ended
                    status = "pending"
                if not s.judged(monday):  # as the scorecard: weeks before the space started
                    status = "before start"
                year, week, _ = monday.isocalendar()
                t.rows.append(
                    [
                        cx.site_id,
                        s.code,
                        s.type,
                        f"{year}-W{week:02d}",
                        round(actual[0], 2),
                        actual[1],
                        round(planned[0], 2),
                        planned[1],
                        text,
                        status,
                    ]
                )
    return t


def compliance_table(facts: list[ComplexFacts]) -> Table:
    """Disinfection and patrol occurrences per space and their on-time rate."""
    t = Table(
        "Disinfection and patrol compliance",
        ["complex", "space", "task", *STATE_COLUMNS, "on_time_pct"],
    )
    for cx in facts:
        for s in cx.spaces:
            for key in TASKS:
                states = s.tasks.get(key)
                if not states:
                    continue
                decided = sum(states.get(k, 0) for k in ("on_time", "late", "missed"))
                rate = 100.0 * states.get("on_time", 0) / decided if decided else None
                t.rows.append(
                    [
                        cx.site_id,
                        s.code,
                        key[1],
                        *(states.get(k, 0) for k in STATE_COLUMNS),
                        _pct(rate),
                    ]
                )
    return t


def events_table(facts: list[ComplexFacts]) -> Table:
    """Activities (lectures, clinics, sports and job events) and maintenance check-ins of
    the spaces a clause counts them for (zeros included) and of any other space with some."""
    t = Table(
        "Events (check-ins)",
        [
            "complex",
            "space",
            "type",
            "activities_period",
            "activities_year_to_date",
            "maintenance_period",
        ],
    )
    for cx in facts:
        p = cx.period
        for s in cx.spaces:
            act = s.events.get("activity", [])
            mnt = s.events.get("maintenance", [])
            if not act and not mnt and s.type not in EVENT_TYPES:
                continue
            t.rows.append(
                [
                    cx.site_id,
                    s.code,
                    s.type,
                    sum(1 for d in act if d >= p.first),
                    len(act),
                    sum(1 for d in mnt if d >= p.first),
                ]
            )
    return t


def satisfaction_table(
    facts: list[ComplexFacts], items: dict[int, Rectification], min_votes: int
) -> Table:
    """Satisfaction per service (every space; 0 votes included), the ones under 80% and
    their rectification status."""
    t = Table(
        "Satisfaction per service",
        [
            "complex",
            "space",
            "type",
            "very_satisfied",
            "satisfied",
            "dissatisfied",
            "very_dissatisfied",
            "votes",
            "rate_pct",
            "under_80",
            "rectification",
        ],
    )
    for cx in facts:
        for s in cx.spaces:
            j = s.tally.as_json()
            below = j["rate_pct"] is not None and j["rate_pct"] < THRESHOLD_PCT
            item = items.get(s.id)
            state = item.state if item else ("-" if not below else f"< {min_votes} votes")
            t.rows.append(
                [
                    cx.site_id,
                    s.code,
                    s.type,
                    j["very_satisfied"],
                    j["satisfied"],
                    j["dissatisfied"],
                    j["very_dissatisfied"],
                    j["votes"],
                    j["rate_pct"],
                    "yes" if below else "no",
                    state,
                ]
            )
    return t


def build_report(
    session: Session,
    kind: ScopeKind,
    ident: str,
    period: str | Period,
    *,
    now: datetime | None = None,
    min_votes: int = DEFAULT_MIN_VOTES,
    open_items: bool = True,
) -> Report:
    """The report of a complex (site id), street or district (path, code or id).

    Args:
        now: judge as of this instant, clamped to the period's end; None: the current
            time (:func:`facility_server.scorecard.as_of`).
        open_items: open the rectification items of services under 80% first (the
            half-year check does; the caller commits).

    Raises:
        LookupError: unknown scope. PeriodError: bad period.
    """
    p = period if isinstance(period, Period) else parse_period(period)
    scope, ids = _complexes(session, kind, ident)
    tz = ZoneInfo(scope.get("timezone", "Asia/Shanghai"))
    at = as_of(p, tz, now)
    if open_items and ids:
        open_rectifications(session, p, at, complex_ids=ids, min_votes=min_votes)
    facts = gather(session, ids, p, at)
    items = {
        r.space_id: r
        for r in session.scalars(
            select(Rectification).where(
                Rectification.period == p.key, Rectification.complex_id.in_(ids)
            )
        )
    }
    cards = [card_of(f, min_votes=min_votes, utilisation_target=None) for f in facts]
    tables = [
        utilisation_table(facts),
        opening_table(facts),
        compliance_table(facts),
        events_table(facts),
        satisfaction_table(facts, items, min_votes),
    ]
    title = f"{scope['name']} {p.key} half-year report"
    return Report(title, scope, p, at.astimezone(tz), cards, rollup(cards), tables)
