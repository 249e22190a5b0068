"""Compliance: a complex's board today, occurrence history, task rules.

Reading compliance needs the role's ``alert`` read permission in scope (admin,
inspectors, complex managers, staff); acknowledging and resolving task alerts is the
alerts API (``/alerts/{id}/acknowledge`` and ``/resolve``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.api.common import IdFilter, IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import CtxDep
from facility_server.api.routes.helpers import invalid, load_child, load_complex, page_in_scope
from facility_server.api.schemas.compliance import (
    BoardPublic,
    HistoryItem,
    OccurrenceState,
    RulePublic,
)
from facility_server.api.scope import select_in_scope
from facility_server.compliance.alerting import ALERT_KIND, subject
from facility_server.compliance.calendar import local_day, to_datetime, to_ms
from facility_server.compliance.load import RuleInfo, SpaceInfo
from facility_server.compliance.tick import evaluate_today
from facility_server.compliance.views import Occurrence
from facility_server.domain import Day, Instant
from facility_server.models import (
    Alert,
    CheckIn,
    Complex,
    Space,
    Staff,
    TaskOccurrence,
    TaskRule,
)

router = APIRouter(tags=["compliance"])


def _checkins(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = session.execute(
        select(CheckIn, Staff.code)
        .outerjoin(Staff, Staff.id == CheckIn.staff_id)
        .where(CheckIn.id.in_(ids))
    )
    return {
        ci.id: {
            "id": ci.id,
            "ts": ci.ts,
            "received_at": to_datetime(ci.received_ms),
            "checkpoint": ci.checkpoint_code,
            "device": ci.device_code,
            "staff": code,
            "clock": ci.clock,
        }
        for ci, code in rows
    }


def _occurrence(o: Occurrence, checkins: dict[int, dict[str, Any]]) -> dict[str, Any]:
    w = o.window
    return {
        "key": w.key,
        "day": w.day,
        "state": o.state,
        "start": to_datetime(w.start_ms),
        "deadline": to_datetime(w.deadline_ms),
        "alert_at": to_datetime(w.alert_ms),
        "until": to_datetime(w.until_ms),
        "done_at": None if o.done_ms is None else to_datetime(o.done_ms),
        "reported_at": None if o.reported_ms is None else to_datetime(o.reported_ms),
        "reported_late": o.reported_late,
        "done": o.done_count,
        "needed": o.needed_count,
        "missing": list(o.missing),
        "reason": o.reason,
        "checkins": [checkins[i] for i in o.satisfied_by if i in checkins],
    }


def _rule(row: TaskRule) -> dict[str, Any]:
    return {
        k: getattr(row, k)
        for k in (
            "id",
            "complex_id",
            "space_id",
            "code",
            "name",
            "kind",
            "task",
            "enabled",
            "params",
        )
    }


@router.get("/complexes/{complex_id}/compliance/today", response_model=BoardPublic)
def compliance_today(
    ctx: CtxDep,
    complex_id: IdPath,
    at: Annotated[Instant | None, Query(description="Instant (tz-aware); default now.")] = None,
) -> dict[str, Any]:
    """Today's board: every rule of every space with its occurrences of the local day
    (pending ones too; the current period for quotas), each with its state, the
    check-ins that did it and the alert it raised."""
    cx = load_complex(ctx, complex_id, "alert", "read")
    now = at or ctx.now
    space_ids = list(ctx.session.scalars(select(Space.id).where(Space.complex_id == cx.id)))
    evaluated = evaluate_today(ctx.session, space_ids, now)
    spaces, counts = _board(ctx.session, cx.id, evaluated, now)
    return {
        "complex_id": cx.id,
        "site_id": cx.site_id,
        "name": cx.name,
        "local_date": local_day(ZoneInfo(cx.timezone), to_ms(now)),
        "now": now,
        "counts": dict(counts),
        "spaces": spaces,
    }


def _board(
    session: Session,
    complex_id: int,
    evaluated: list[tuple[RuleInfo, SpaceInfo, list[Occurrence]]],
    now: datetime,
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Spaces with their rules and occurrences (check-ins and the ids of alerts opened
    by ``now`` filled in), and the number of occurrences per state."""
    checkins = _checkins(
        session, {i for _, _, occs in evaluated for o in occs for i in o.satisfied_by}
    )
    keys = {o.key for _, _, occs in evaluated for o in occs}
    alerts = {
        (subject_, occurrence): alert_id
        for alert_id, subject_, occurrence in session.execute(
            select(Alert.id, Alert.subject, Alert.occurrence).where(
                Alert.complex_id == complex_id,
                Alert.kind == ALERT_KIND,
                Alert.occurrence.in_(keys),
                Alert.opened_at <= now,
            )
        )
    }
    rules = {
        r.id: r for r in session.scalars(select(TaskRule).where(TaskRule.complex_id == complex_id))
    }
    out: dict[int, dict[str, Any]] = {}
    counts: Counter[str] = Counter()
    for info, space, occs in evaluated:
        item = out.setdefault(
            space.id,
            {
                "id": space.id,
                "code": space.code,
                "name": space.name,
                "type": space.type,
                "rules": [],
            },
        )
        board = []
        for o in occs:
            counts[o.state] += 1
            entry = _occurrence(o, checkins)
            entry["alert_id"] = alerts.get((subject(space, info), o.key))
            board.append(entry)
        item["rules"].append({**_rule(rules[info.id]), "occurrences": board})
    return list(out.values()), counts


@router.get("/compliance/occurrences", response_model=Page[HistoryItem])
def list_occurrences(
    ctx: CtxDep,
    complex_id: IdFilter = None,
    space_id: IdFilter = None,
    rule_id: IdFilter = None,
    state: OccurrenceState | None = None,
    day_from: Annotated[Day | None, Query(description="First local day.")] = None,
    day_to: Annotated[Day | None, Query(description="Last local day.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Stored occurrences (history; pending ones are not stored) in the caller's
    subtree, newest day first, each with the id of the task alert it raised (if any).
    404 for a complex or space absent or out of scope; 422 when day_to < day_from."""
    ctx.authorize("alert", "read")
    if day_from is not None and day_to is not None and day_to < day_from:
        raise invalid(
            ("query", "day_to"), f"day_to is before day_from ({day_from.isoformat()})", str(day_to)
        )
    if complex_id is not None:  # 404 when absent or out of scope, as the board
        load_complex(ctx, complex_id, "alert", "read")
    if space_id is not None:
        load_child(ctx, Space, space_id, "alert", "read", "space")
    stmt = select_in_scope(TaskOccurrence, ctx.principal, complex_id=complex_id, space_id=space_id)
    for column, value in ((TaskOccurrence.rule_id, rule_id), (TaskOccurrence.state, state)):
        if value is not None:
            stmt = stmt.where(column == value)
    if day_from is not None:
        stmt = stmt.where(TaskOccurrence.day >= day_from)
    if day_to is not None:
        stmt = stmt.where(TaskOccurrence.day <= day_to)
    stmt = stmt.order_by(TaskOccurrence.day.desc(), TaskOccurrence.start_ms.desc())
    page = paginate(ctx.session, stmt, limit, offset, TaskOccurrence.id.desc())
    rows: list[TaskOccurrence] = page["items"]
    codes, alerts = _rule_codes_and_alerts(ctx.session, rows)
    checkins = _checkins(ctx.session, {i for r in rows for i in r.satisfied_by})
    items = []
    for r in rows:
        code, subject_ = codes.get(r.rule_id, ("", ""))
        items.append({**_stored(r, code, checkins), "alert_id": alerts.get((subject_, r.key))})
    page["items"] = items
    return page


def _rule_codes_and_alerts(
    session: Session, rows: list[TaskOccurrence]
) -> tuple[dict[int, tuple[str, str]], dict[tuple[str, str], int]]:
    """rule id -> (rule code, task alert subject ``site/space/rule``), and (subject,
    occurrence key) -> the id of the task alert raised for that occurrence."""
    found = session.execute(
        select(TaskRule.id, TaskRule.code, Space.code, Complex.site_id)
        .join(Space, Space.id == TaskRule.space_id)
        .join(Complex, Complex.id == TaskRule.complex_id)
        .where(TaskRule.id.in_({r.rule_id for r in rows}))
    ).all()
    codes = {rid: (code, f"{site}/{space}/{code}") for rid, code, space, site in found}
    if not rows:
        return codes, {}
    stmt = select(Alert.id, Alert.subject, Alert.occurrence).where(
        Alert.kind == ALERT_KIND,
        Alert.complex_id.in_({r.complex_id for r in rows}),
        Alert.occurrence.in_({r.key for r in rows}),
    )
    return codes, {(subj, occ): aid for aid, subj, occ in session.execute(stmt)}


def _stored(r: TaskOccurrence, rule: str, checkins: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": r.id,
        "rule_id": r.rule_id,
        "rule": rule,
        "complex_id": r.complex_id,
        "space_id": r.space_id,
        "key": r.key,
        "day": r.day,
        "state": r.state,
        "start": to_datetime(r.start_ms),
        "deadline": to_datetime(r.deadline_ms),
        "alert_at": to_datetime(r.alert_ms),
        "until": to_datetime(r.until_ms),
        "done_at": None if r.done_ms is None else to_datetime(r.done_ms),
        "reported_at": None if r.reported_ms is None else to_datetime(r.reported_ms),
        "reported_late": r.reported_ms is not None and r.reported_ms > r.alert_ms,
        "done": r.done_count,
        "needed": r.needed_count,
        "missing": list(r.missing),
        "reason": r.reason,
        "checkins": [checkins[i] for i in r.satisfied_by if i in checkins],
    }


@router.get("/compliance/rules", response_model=Page[RulePublic])
def list_rules(
    ctx: CtxDep,
    complex_id: IdFilter = None,
    space_id: IdFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Task rules in the caller's subtree (they are written through the setup file)."""
    return page_in_scope(
        ctx, TaskRule, "alert", complex_id=complex_id, space_id=space_id, limit=limit, offset=offset
    )
