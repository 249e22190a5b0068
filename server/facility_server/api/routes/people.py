"""Staff (personal data: every read is audited) and checkpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from sqlalchemy import delete, select

from facility_server.api.common import IdFilter, IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import Ctx, CtxDep
from facility_server.api.routes.helpers import (
    apply_update,
    invalid,
    load_child,
    load_complex,
    page_in_scope,
)
from facility_server.api.schemas.devices import (
    CheckpointCreate,
    CheckpointPublic,
    CheckpointUpdate,
    StaffCreate,
    StaffPublic,
    StaffUpdate,
)
from facility_server.api.scope import select_in_scope
from facility_server.models import Badge, Checkpoint, Space, Staff

router = APIRouter(tags=["people"])


def _public(ctx: Ctx, person: Staff) -> dict[str, Any]:
    uids = ctx.session.scalars(
        select(Badge.uid).where(Badge.staff_id == person.id).order_by(Badge.id)
    )
    return {
        "id": person.id,
        "complex_id": person.complex_id,
        "code": person.code,
        "name": person.name,
        "duty": person.duty,
        "active": person.active,
        "badges": list(uids),
    }


def _set_badges(ctx: Ctx, person: Staff, uids: list[str]) -> None:
    ctx.session.execute(delete(Badge).where(Badge.staff_id == person.id))
    for uid in dict.fromkeys(uids):
        ctx.session.add(Badge(complex_id=person.complex_id, staff_id=person.id, uid=uid))
    ctx.session.flush()


@router.get("/staff", response_model=Page[StaffPublic])
def list_staff(
    ctx: CtxDep, complex_id: IdFilter = None, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """Staff in the caller's subtree (audited: personal data)."""
    ctx.authorize("staff", "read")
    stmt = select_in_scope(Staff, ctx.principal, complex_id=complex_id)
    page = paginate(ctx.session, stmt, limit, offset, Staff.id)
    page["items"] = [_public(ctx, p) for p in page["items"]]
    ctx.audit("staff.read", f"staff?complex_id={complex_id}", {"count": len(page["items"])})
    return page


@router.get("/staff/{staff_id}", response_model=StaffPublic)
def get_staff(ctx: CtxDep, staff_id: IdPath) -> dict[str, Any]:
    """One staff member (audited)."""
    person = load_child(ctx, Staff, staff_id, "staff", "read")
    ctx.audit("staff.read", f"staff:{staff_id}")
    return _public(ctx, person)


@router.post("/staff", response_model=StaffPublic, status_code=status.HTTP_201_CREATED)
def create_staff(ctx: CtxDep, body: StaffCreate) -> dict[str, Any]:
    """Add a staff member with badges (canonical UIDs)."""
    load_complex(ctx, body.complex_id, "staff", "write")
    person = Staff(**body.model_dump(exclude={"badges"}))
    ctx.session.add(person)
    ctx.session.flush()
    _set_badges(ctx, person, body.badges)
    ctx.audit("staff.create", f"staff:{person.id}", {"code": person.code})
    return _public(ctx, person)


@router.patch("/staff/{staff_id}", response_model=StaffPublic)
def update_staff(ctx: CtxDep, staff_id: IdPath, body: StaffUpdate) -> dict[str, Any]:
    """Change a staff member; ``badges`` replaces the list."""
    person = load_child(ctx, Staff, staff_id, "staff", "write")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    badges = changes.pop("badges", None)
    changed = apply_update(person, changes)
    if badges is not None:
        _set_badges(ctx, person, badges)
        changed["badges"] = len(badges)
    ctx.audit("staff.update", f"staff:{person.id}", changed)
    return _public(ctx, person)


@router.get("/checkpoints", response_model=Page[CheckpointPublic])
def list_checkpoints(
    ctx: CtxDep,
    complex_id: IdFilter = None,
    space_id: IdFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Checkpoints in the caller's subtree."""
    return page_in_scope(
        ctx,
        Checkpoint,
        "checkpoint",
        complex_id=complex_id,
        space_id=space_id,
        limit=limit,
        offset=offset,
    )


@router.get("/checkpoints/{checkpoint_id}", response_model=CheckpointPublic)
def get_checkpoint(ctx: CtxDep, checkpoint_id: IdPath) -> Checkpoint:
    """One checkpoint."""
    return load_child(ctx, Checkpoint, checkpoint_id, "checkpoint", "read")


@router.post("/checkpoints", response_model=CheckpointPublic, status_code=status.HTTP_201_CREATED)
def create_checkpoint(ctx: CtxDep, body: CheckpointCreate) -> Checkpoint:
    """Bind a tag or QR id to a space."""
    ctx.authorize("checkpoint", "read")
    space = ctx.session.get(Space, body.space_id)
    if space is None:
        raise invalid(("body", "space_id"), "no such space", body.space_id)
    load_complex(ctx, space.complex_id, "checkpoint", "write")
    row = Checkpoint(complex_id=space.complex_id, **body.model_dump())
    row.tag_kind = str(body.tag_kind)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("checkpoint.create", f"checkpoint:{row.id}", {"code": row.code})
    return row


@router.patch("/checkpoints/{checkpoint_id}", response_model=CheckpointPublic)
def update_checkpoint(ctx: CtxDep, checkpoint_id: IdPath, body: CheckpointUpdate) -> Checkpoint:
    """Rename a checkpoint."""
    row = load_child(ctx, Checkpoint, checkpoint_id, "checkpoint", "write")
    ctx.audit(
        "checkpoint.update",
        f"checkpoint:{row.id}",
        apply_update(row, body.model_dump(exclude_unset=True, exclude_none=True)),
    )
    return row
