"""Spaces, their opening on a date, and calendar exceptions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from facility_server.api.common import IdFilter, IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import CtxDep
from facility_server.api.routes.helpers import apply_update, invalid, load_child, load_complex
from facility_server.api.schemas.registry import (
    ExceptionCreate,
    ExceptionPublic,
    OpeningPublic,
    SpaceCreate,
    SpacePublic,
    SpaceUpdate,
)
from facility_server.api.scope import visible_complex_ids
from facility_server.domain import Day, SpaceType
from facility_server.models import CalendarException, Complex, Space
from facility_server.opening import holiday_calendar_status, opening_intervals
from facility_server.schedules import schedule_for

router = APIRouter(tags=["registry"])


@router.get("/spaces", response_model=Page[SpacePublic])
def list_spaces(
    ctx: CtxDep,
    complex_id: IdFilter = None,
    type: SpaceType | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Spaces in the caller's subtree, filtered by complex and 4+5+X type."""
    ctx.authorize("space", "read")
    stmt = select(Space).where(Space.complex_id.in_(visible_complex_ids(ctx.principal)))
    if complex_id is not None:
        stmt = stmt.where(Space.complex_id == complex_id)
    if type is not None:
        stmt = stmt.where(Space.type == type)
    return paginate(ctx.session, stmt, limit, offset, Space.id)


@router.get("/spaces/{space_id}", response_model=SpacePublic)
def get_space(ctx: CtxDep, space_id: IdPath) -> Space:
    """One space."""
    return load_child(ctx, Space, space_id, "space", "read")


@router.post("/spaces", response_model=SpacePublic, status_code=status.HTTP_201_CREATED)
def create_space(ctx: CtxDep, body: SpaceCreate) -> Space:
    """Create a space in a complex."""
    load_complex(ctx, body.complex_id, "space", "write")
    values = body.model_dump()
    values["type"] = str(values["type"])
    row = Space(**values)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("space.create", f"space:{row.id}", {"code": row.code})
    return row


@router.patch("/spaces/{space_id}", response_model=SpacePublic)
def update_space(ctx: CtxDep, space_id: IdPath, body: SpaceUpdate) -> Space:
    """Change a space (hours, capacity, type, name)."""
    row = load_child(ctx, Space, space_id, "space", "write")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "type" in changes:
        changes["type"] = str(changes["type"])
    ctx.audit("space.update", f"space:{row.id}", apply_update(row, changes))
    return row


@router.get("/spaces/{space_id}/opening", response_model=OpeningPublic)
def space_opening(
    ctx: CtxDep,
    space_id: IdPath,
    date: Annotated[Day, Query(description="Local date (the complex's time zone).")],
) -> dict[str, Any]:
    """Opening intervals of a space on a local date (exceptions and public holidays applied);
    ``holiday_calendar`` says ``not available for 2027`` when China's holidays of that year
    are not known yet (they are then not applied)."""
    space = load_child(ctx, Space, space_id, "space", "read")
    cx = ctx.session.get_one(Complex, space.complex_id)
    exceptions = ctx.session.scalars(
        select(CalendarException).where(CalendarException.complex_id == cx.id)
    )
    schedule = schedule_for(cx, space, exceptions)
    return {
        "space_id": space.id,
        "date": date,
        "timezone": cx.timezone,
        "intervals": opening_intervals(schedule, date),
        "holiday_calendar": holiday_calendar_status(date),
    }


@router.get("/calendar-exceptions", response_model=Page[ExceptionPublic])
def list_exceptions(
    ctx: CtxDep, complex_id: IdFilter = None, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """Dated exceptions (closures, special hours) in the caller's subtree."""
    ctx.authorize("space", "read")
    stmt = select(CalendarException).where(
        CalendarException.complex_id.in_(visible_complex_ids(ctx.principal))
    )
    if complex_id is not None:
        stmt = stmt.where(CalendarException.complex_id == complex_id)
    return paginate(ctx.session, stmt, limit, offset, CalendarException.day)


@router.post(
    "/calendar-exceptions", response_model=ExceptionPublic, status_code=status.HTTP_201_CREATED
)
def create_exception(ctx: CtxDep, body: ExceptionCreate) -> CalendarException:
    """Close a complex or space on a date, or give it special hours (overrides holidays)."""
    load_complex(ctx, body.complex_id, "space", "write")
    if body.space_id is not None:
        space = ctx.session.get(Space, body.space_id)
        if space is None or space.complex_id != body.complex_id:
            raise invalid(("body", "space_id"), "no such space in this complex", body.space_id)
    row = CalendarException(
        complex_id=body.complex_id,
        space_id=body.space_id,
        space_key=body.space_id or 0,
        day=body.day,
        closed=not body.hours,
        hours=list(body.hours),
        note=body.note,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("calendar.create", f"calendar_exception:{row.id}", {"day": row.day.isoformat()})
    return row


@router.delete("/calendar-exceptions/{exception_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_exception(ctx: CtxDep, exception_id: IdPath) -> None:
    """Remove a dated exception."""
    row = load_child(ctx, CalendarException, exception_id, "space", "write")
    ctx.session.delete(row)
    ctx.audit("calendar.delete", f"calendar_exception:{exception_id}")
