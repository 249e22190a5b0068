"""Complexes and their "today" view."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, status
from sqlalchemy import func, select

from facility_server.api.common import IdFilter, IdPath, Limit, Offset, Page, Search, paginate
from facility_server.api.deps import CtxDep
from facility_server.api.routes.helpers import apply_update, invalid, load_complex
from facility_server.api.schemas.registry import (
    ComplexCreate,
    ComplexPublic,
    ComplexUpdate,
    TodayPublic,
)
from facility_server.api.scope import complex_condition, region_ancestry
from facility_server.domain import Instant
from facility_server.models import Alert, CalendarException, Complex, Device, Region, Space
from facility_server.opening import is_open, opening_intervals
from facility_server.schedules import schedule_for

router = APIRouter(prefix="/complexes", tags=["registry"])


@router.get("", response_model=Page[ComplexPublic])
def list_complexes(
    ctx: CtxDep,
    district_id: IdFilter = None,
    street_id: IdFilter = None,
    community_id: IdFilter = None,
    q: Search = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Complexes in the caller's subtree, filtered by region and name."""
    ctx.authorize("complex", "read")
    stmt = select(Complex).where(complex_condition(ctx.principal))
    for column, value in (
        (Complex.district_id, district_id),
        (Complex.street_id, street_id),
        (Complex.community_id, community_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if q:
        stmt = stmt.where(Complex.name.contains(q, autoescape=True))
    return paginate(ctx.session, stmt, limit, offset, Complex.id)


@router.get("/{complex_id}", response_model=ComplexPublic)
def get_complex(ctx: CtxDep, complex_id: IdPath) -> Complex:
    """One complex."""
    return load_complex(ctx, complex_id, "complex", "read")


@router.post("", response_model=ComplexPublic, status_code=status.HTTP_201_CREATED)
def create_complex(ctx: CtxDep, body: ComplexCreate) -> Complex:
    """Create a complex in a community."""
    ctx.authorize("complex", "read")
    community = ctx.session.get(Region, body.community_id)
    if community is None or community.kind != "community":
        raise invalid(("body", "community_id"), "no such community", body.community_id)
    where = region_ancestry(ctx.session, community)
    ctx.authorize("complex", "write", where, f"region:{community.id}")
    values = body.model_dump()
    values["public_holidays"] = str(values["public_holidays"])
    row = Complex(**values, street_id=where.street_id, district_id=where.district_id)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("complex.create", f"complex:{row.id}", {"site_id": row.site_id})
    return row


@router.patch("/{complex_id}", response_model=ComplexPublic)
def update_complex(ctx: CtxDep, complex_id: IdPath, body: ComplexUpdate) -> Complex:
    """Change a complex."""
    row = load_complex(ctx, complex_id, "complex", "write")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "public_holidays" in changes:
        changes["public_holidays"] = str(changes["public_holidays"])
    ctx.audit("complex.update", f"complex:{row.id}", apply_update(row, changes))
    return row


@router.get("/{complex_id}/today", response_model=TodayPublic)
def complex_today(
    ctx: CtxDep,
    complex_id: IdPath,
    at: Annotated[Instant | None, Query(description="Instant (tz-aware); default now.")] = None,
) -> dict[str, Any]:
    """A complex today: each space's opening intervals and whether it is open now,
    device health counts and open alerts (local date in the complex's time zone)."""
    cx = load_complex(ctx, complex_id, "complex", "read")
    now = at or ctx.now
    local_date = now.astimezone(ZoneInfo(cx.timezone)).date()
    spaces = list(
        ctx.session.scalars(select(Space).where(Space.complex_id == cx.id).order_by(Space.id))
    )
    exceptions = list(
        ctx.session.scalars(select(CalendarException).where(CalendarException.complex_id == cx.id))
    )
    out = []
    for space in spaces:
        schedule = schedule_for(cx, space, exceptions)
        out.append(
            {
                "id": space.id,
                "code": space.code,
                "name": space.name,
                "type": space.type,
                "capacity": space.capacity,
                "intervals": opening_intervals(schedule, local_date),
                "open_now": is_open(schedule, now),
            }
        )
    health = dict(
        ctx.session.execute(
            select(Device.health, func.count())
            .where(Device.complex_id == cx.id)
            .group_by(Device.health)
        ).all()
    )
    alerts = (
        ctx.session.scalar(
            select(func.count())
            .select_from(Alert)
            .where(Alert.complex_id == cx.id, Alert.state != "resolved")
        )
        or 0
    )
    return {
        "complex": cx,
        "local_date": local_date,
        "now": now,
        "spaces": out,
        "devices": health,
        "open_alerts": alerts,
    }
