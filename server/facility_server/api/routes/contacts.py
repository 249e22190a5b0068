"""Contacts: who is notified of alerts at a complex, a street or a district.

Complex contacts normally come from the setup file (an import replaces them); street and
district contacts, the escalation levels, are kept here. Writing a complex's contacts
needs ``complex`` write in scope (admin, its manager); a street's or district's needs
``region`` write (admin). URLs hold tokens: they are returned masked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlalchemy import and_, or_, select

from facility_server.api.common import IdFilter, IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import Ctx, CtxDep
from facility_server.api.routes.helpers import conflict, invalid, load_complex, not_found
from facility_server.api.schemas.compliance import ContactCreate, ContactPublic
from facility_server.api.scope import region_ancestry, region_condition, visible_complex_ids
from facility_server.models import Contact, Region, Staff
from facility_server.notify.sender import channel_of, masked

router = APIRouter(prefix="/contacts", tags=["compliance"])
ScopeKindQuery = Annotated[
    Literal["complex", "street", "district"] | None,
    Query(description="The node kind scope_id refers to."),
]


def _public(c: Contact) -> dict[str, Any]:
    return {
        "id": c.id,
        "scope_kind": c.scope_kind,
        "scope_id": c.scope_id,
        "code": c.code,
        "name": c.name,
        "url": masked(c.url),
        "channel": channel_of(c.url),
        "topics": list(c.topics),
        "staff_code": c.staff_code,
        "active": c.active,
    }


def _authorize(ctx: Ctx, scope_kind: str, scope_id: int, action: str) -> int | None:
    """Check the caller may ``action`` contacts at the node; return the complex id."""
    if scope_kind == "complex":
        return load_complex(ctx, scope_id, "complex", action).id  # type: ignore[arg-type]
    ctx.authorize("region", "read")
    region = ctx.session.get(Region, scope_id)
    if region is None or region.kind != scope_kind:
        raise not_found(scope_kind)
    ctx.authorize("region", action, region_ancestry(ctx.session, region), f"region:{region.id}")  # type: ignore[arg-type]
    return None


@router.get("", response_model=Page[ContactPublic])
def list_contacts(
    ctx: CtxDep,
    scope_kind: ScopeKindQuery = None,
    scope_id: IdFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Contacts of complexes and regions in the caller's subtree; ``scope_id`` needs
    ``scope_kind`` (complex 1 and district 1 are different nodes; 422 otherwise)."""
    ctx.authorize("alert", "read")
    if scope_id is not None and scope_kind is None:
        raise invalid(("query", "scope_kind"), "scope_id needs scope_kind", None)
    regions = select(Region.id).where(region_condition(ctx.session, ctx.principal))
    stmt = select(Contact).where(
        or_(
            and_(
                Contact.scope_kind == "complex",
                Contact.scope_id.in_(visible_complex_ids(ctx.principal)),
            ),
            and_(Contact.scope_kind != "complex", Contact.scope_id.in_(regions)),
        )
    )
    if scope_kind is not None:
        stmt = stmt.where(Contact.scope_kind == scope_kind)
    if scope_id is not None:
        stmt = stmt.where(Contact.scope_id == scope_id)
    page = paginate(ctx.session, stmt, limit, offset, Contact.id)
    page["items"] = [_public(c) for c in page["items"]]
    return page


@router.post("", response_model=ContactPublic, status_code=status.HTTP_201_CREATED)
def create_contact(ctx: CtxDep, body: ContactCreate) -> dict[str, Any]:
    """Add a contact (409 naming the code when it exists at that node; 422 for a
    ``staff_code`` on a street or district contact, or one not on the complex's staff)."""
    complex_id = _authorize(ctx, body.scope_kind, body.scope_id, "write")
    _check_new(ctx, body, complex_id)
    row = Contact(
        scope_kind=body.scope_kind,
        scope_id=body.scope_id,
        complex_id=complex_id,
        code=body.code,
        name=body.name,
        url=body.url,
        topics=list(dict.fromkeys(body.topics)),
        staff_code=body.staff_code,
        active=True,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("contact.create", f"contact:{row.id}", {"scope": f"{row.scope_kind}:{row.scope_id}"})
    return _public(row)


def _check_new(ctx: Ctx, body: ContactCreate, complex_id: int | None) -> None:
    """Refuse a duplicate code at the node and a staff code that names no one there."""
    taken = ctx.session.scalar(
        select(Contact.id).where(
            Contact.scope_kind == body.scope_kind,
            Contact.scope_id == body.scope_id,
            Contact.code == body.code,
        )
    )
    if taken is not None:
        raise conflict(
            ("body", "code"),
            f"a contact with this code exists at this {body.scope_kind}",
            body.code,
        )
    if body.staff_code is None:
        return
    if complex_id is None:
        raise invalid(
            ("body", "staff_code"),
            f"only a complex contact may name a staff member, not a {body.scope_kind} one",
            body.staff_code,
        )
    known = ctx.session.scalar(
        select(Staff.id).where(Staff.complex_id == complex_id, Staff.code == body.staff_code)
    )
    if known is None:
        raise invalid(
            ("body", "staff_code"), "no staff with this code at the complex", body.staff_code
        )


@router.delete("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_contact(ctx: CtxDep, contact_id: IdPath) -> Response:
    """Remove a contact (messages queued for it are cancelled)."""
    ctx.authorize("alert", "read")
    row = ctx.session.get(Contact, contact_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "contact not found")
    _authorize(ctx, row.scope_kind, row.scope_id, "write")
    ctx.session.delete(row)
    ctx.audit("contact.delete", f"contact:{contact_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
