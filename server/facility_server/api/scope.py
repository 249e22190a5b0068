"""Scope checks and scope filters for queries (who sees which part of the hierarchy)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, true
from sqlalchemy.orm import Session

from facility_server.auth.roles import Ancestry, Principal, ScopeKind
from facility_server.models import Complex, Region


def complex_condition(p: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`Complex` selecting the complexes inside ``p``'s scope."""
    column = {
        ScopeKind.district: Complex.district_id,
        ScopeKind.street: Complex.street_id,
        ScopeKind.community: Complex.community_id,
        ScopeKind.complex: Complex.id,
    }.get(p.scope_kind)
    return true() if column is None else column == p.scope_id


def visible_complex_ids(p: Principal) -> Select[Any]:
    """Subquery of the ids of complexes in scope (for ``X.complex_id.in_(...)``)."""
    return select(Complex.id).where(complex_condition(p))


def select_in_scope(
    model: Any, p: Principal, *, complex_id: int | None = None, space_id: int | None = None
) -> Select[Any]:
    """``SELECT model`` rows of the complexes in ``p``'s scope, narrowed to one complex
    and one space when given (``model`` has a ``complex_id`` column, and a ``space_id``
    column to filter on it): the shape of the list endpoints, for :func:`paginate`."""
    stmt = select(model).where(model.complex_id.in_(visible_complex_ids(p)))
    if complex_id is not None:
        stmt = stmt.where(model.complex_id == complex_id)
    if space_id is not None:
        stmt = stmt.where(model.space_id == space_id)
    return stmt


def region_condition(session: Session, p: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`Region`: the scope node and everything below it."""
    if p.scope_kind is ScopeKind.city:
        return true()
    if p.scope_kind is ScopeKind.complex or p.scope_id is None:
        return Region.id == -1
    path = session.scalar(select(Region.path).where(Region.id == p.scope_id))
    if path is None:
        return Region.id == -1
    return or_(Region.path == path, Region.path.startswith(path + "/", autoescape=True))


def complex_ancestry(cx: Complex) -> Ancestry:
    """Where a complex sits."""
    return Ancestry(cx.district_id, cx.street_id, cx.community_id, cx.id)


def region_ancestry(session: Session, region: Region) -> Ancestry:
    """Where a region sits (ids of itself and its ancestors)."""
    chain = [region]
    while chain[-1].parent_id is not None and len(chain) < 3:
        chain.append(session.get_one(Region, chain[-1].parent_id))
    ids = {r.kind: r.id for r in chain}
    return Ancestry(ids.get("district"), ids.get("street"), ids.get("community"))
