"""Satisfaction per service and rectification items (issue 6).

Who may do what (scoped like the rest: out of scope -> 404):

- read (rates, items): every role that reads complexes;
- open the items of a period (``evaluate``) and mark an item ``fixed``: roles that
  write complexes (admin, the complex's manager);
- ``verify`` a fixed item (accept, or send it back to ``open``): admin and inspectors
  (the district's half-year check), never the account that marked it fixed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import Field
from sqlalchemy import select

from facility_server.api.common import IdFilter, IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import CtxDep
from facility_server.api.routes.helpers import conflict, load_child, load_complex
from facility_server.api.routes.scorecard import PeriodQuery, period_or_422
from facility_server.api.schemas.base import In, Out
from facility_server.api.scope import visible_complex_ids
from facility_server.auth.roles import Role
from facility_server.domain import ShortText
from facility_server.models import Space
from facility_server.satisfaction.models import Rectification
from facility_server.satisfaction.rates import THRESHOLD_PCT
from facility_server.satisfaction.rectify import (
    RectificationStateError,
    evaluate,
    mark_fixed,
    service_tallies,
    verify,
)

router = APIRouter(tags=["satisfaction"])
VERIFIERS = frozenset({Role.admin, Role.inspector})


class RectificationPublic(Out):
    """A rectification item as returned."""

    id: int
    complex_id: int
    space_id: int
    period: str
    rate_pct: float
    votes: int
    state: str
    opened_at: datetime
    fixed_at: datetime | None
    fixed_by: str | None
    fix_note: str
    verified_at: datetime | None
    verified_by: str | None
    verify_note: str


class RectificationFix(In):
    """What the complex changed."""

    note: ShortText = Field(min_length=1)


class RectificationVerify(In):
    """The check's outcome: accepted (verified) or not (back to open)."""

    accepted: bool
    note: ShortText = ""


@router.get("/complexes/{complex_id}/satisfaction")
def complex_satisfaction(ctx: CtxDep, complex_id: IdPath, period: PeriodQuery) -> dict[str, Any]:
    """Votes and satisfaction rate ((very satisfied + satisfied) / all) per service."""
    cx = load_complex(ctx, complex_id, "complex", "read")
    p = period_or_422(period)
    tallies = service_tallies(ctx.session, [cx.id], p)
    spaces = ctx.session.scalars(select(Space).where(Space.complex_id == cx.id).order_by(Space.id))
    services = []
    for s in spaces:
        tally = tallies.get(s.id)
        if tally is None:
            continue
        j = tally.as_json()
        below = j["rate_pct"] is not None and j["rate_pct"] < THRESHOLD_PCT
        services.append({"space": s.code, "space_id": s.id, "type": s.type, **j, "under_80": below})
    return {"complex": cx.site_id, "period": p.key, "services": services}


@router.post(
    "/complexes/{complex_id}/rectifications/evaluate", response_model=list[RectificationPublic]
)
def evaluate_rectifications(
    ctx: CtxDep, complex_id: IdPath, period: PeriodQuery
) -> list[Rectification]:
    """Open an item for every service of the complex under 80% in the period."""
    cx = load_complex(ctx, complex_id, "complex", "write")
    p = period_or_422(period)
    items = evaluate(ctx.session, p, ctx.now, complex_ids=[cx.id])
    ctx.audit("rectification.evaluate", f"complex:{cx.id}", {"period": p.key, "items": len(items)})
    return items


@router.get("/rectifications", response_model=Page[RectificationPublic])
def list_rectifications(
    ctx: CtxDep,
    state: Literal["open", "fixed", "verified"] | None = None,
    complex_id: IdFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Rectification items in the caller's subtree, newest first."""
    ctx.authorize("complex", "read")
    stmt = select(Rectification).where(
        Rectification.complex_id.in_(visible_complex_ids(ctx.principal))
    )
    if state is not None:
        stmt = stmt.where(Rectification.state == state)
    if complex_id is not None:
        stmt = stmt.where(Rectification.complex_id == complex_id)
    return paginate(ctx.session, stmt, limit, offset, Rectification.id.desc())


@router.get("/rectifications/{item_id}", response_model=RectificationPublic)
def get_rectification(ctx: CtxDep, item_id: IdPath) -> Rectification:
    """One item."""
    return load_child(ctx, Rectification, item_id, "complex", "read", "rectification")


@router.post("/rectifications/{item_id}/fix", response_model=RectificationPublic)
def fix_rectification(ctx: CtxDep, item_id: IdPath, body: RectificationFix) -> Rectification:
    """open -> fixed, with what was changed (409 naming the state unless open)."""
    item = load_child(ctx, Rectification, item_id, "complex", "write", "rectification")
    try:
        mark_fixed(item, ctx.principal.username, body.note, ctx.now)
    except RectificationStateError as exc:
        raise conflict(("state",), str(exc), item.state) from exc
    ctx.audit("rectification.fix", f"rectification:{item.id}", {"note": body.note})
    return item


@router.post("/rectifications/{item_id}/verify", response_model=RectificationPublic)
def verify_rectification(ctx: CtxDep, item_id: IdPath, body: RectificationVerify) -> Rectification:
    """fixed -> verified (accepted) or back to open; admin and inspectors only, and not
    the account that marked it fixed (409 naming the state unless fixed)."""
    item = load_child(ctx, Rectification, item_id, "complex", "read", "rectification")
    if ctx.principal.role not in VERIFIERS or item.fixed_by == ctx.principal.username:
        ctx._deny("complex", "write", f"rectification:{item_id}", status.HTTP_403_FORBIDDEN)
    try:
        verify(item, ctx.principal.username, body.note, ctx.now, accepted=body.accepted)
    except RectificationStateError as exc:
        raise conflict(("state",), str(exc), item.state) from exc
    ctx.audit("rectification.verify", f"rectification:{item.id}", {"accepted": body.accepted})
    return item
