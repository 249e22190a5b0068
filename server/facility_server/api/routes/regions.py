"""Regions: districts, streets, communities."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from sqlalchemy import select

from facility_server.api.common import IdFilter, IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import CtxDep
from facility_server.api.routes.helpers import apply_update, invalid, not_found
from facility_server.api.schemas.registry import RegionCreate, RegionPublic, RegionUpdate
from facility_server.api.scope import region_ancestry, region_condition
from facility_server.auth.roles import Ancestry
from facility_server.domain import RegionKind
from facility_server.models import Region

router = APIRouter(prefix="/regions", tags=["registry"])
_PARENT_KIND = {
    RegionKind.district: None,
    RegionKind.street: "district",
    RegionKind.community: "street",
}


@router.get("", response_model=Page[RegionPublic])
def list_regions(
    ctx: CtxDep,
    kind: RegionKind | None = None,
    parent_id: IdFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Regions in the caller's subtree, filtered by kind and parent."""
    ctx.authorize("region", "read")
    stmt = select(Region).where(region_condition(ctx.session, ctx.principal))
    if kind is not None:
        stmt = stmt.where(Region.kind == kind)
    if parent_id is not None:
        stmt = stmt.where(Region.parent_id == parent_id)
    return paginate(ctx.session, stmt, limit, offset, Region.path)


def _load(ctx: CtxDep, region_id: int, action: str) -> Region:
    ctx.authorize("region", "read")
    row = ctx.session.get(Region, region_id)
    if row is None:
        raise not_found("region")
    ctx.authorize("region", action, region_ancestry(ctx.session, row), f"region:{region_id}")  # type: ignore[arg-type]
    return row


@router.get("/{region_id}", response_model=RegionPublic)
def get_region(ctx: CtxDep, region_id: IdPath) -> Region:
    """One region."""
    return _load(ctx, region_id, "read")


@router.post("", response_model=RegionPublic, status_code=status.HTTP_201_CREATED)
def create_region(ctx: CtxDep, body: RegionCreate) -> Region:
    """Create a district (no parent), street (under a district) or community (under a street)."""
    ctx.authorize("region", "write", Ancestry(), "region")
    parent = ctx.session.get(Region, body.parent_id) if body.parent_id else None
    if parent is not None:
        ctx.authorize(
            "region", "write", region_ancestry(ctx.session, parent), f"region:{parent.id}"
        )
    expected = _PARENT_KIND[body.kind]
    if (parent.kind if parent else None) != expected or (body.parent_id and parent is None):
        raise invalid(
            ("body", "parent_id"),
            f"a {body.kind} needs a parent of kind {expected}"
            if expected
            else "a district has no parent",
            body.parent_id,
        )
    path = f"{parent.path}/{body.code}" if parent else body.code
    row = Region(
        kind=str(body.kind), code=body.code, name=body.name, parent_id=body.parent_id, path=path
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("region.create", f"region:{row.id}", {"path": path})
    return row


@router.patch("/{region_id}", response_model=RegionPublic)
def update_region(ctx: CtxDep, region_id: IdPath, body: RegionUpdate) -> Region:
    """Rename a region."""
    row = _load(ctx, region_id, "write")
    changed = apply_update(row, body.model_dump(exclude_unset=True, exclude_none=True))
    ctx.audit("region.update", f"region:{row.id}", changed)
    return row
