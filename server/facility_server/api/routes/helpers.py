"""Load-and-authorize helpers shared by the routes."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import HTTPException, status
from fastapi.exceptions import RequestValidationError

from facility_server.api.common import paginate
from facility_server.api.deps import Ctx
from facility_server.api.scope import complex_ancestry, select_in_scope
from facility_server.auth.roles import Action, Resource
from facility_server.models import Complex

M = TypeVar("M")
#: The first ``loc`` element of a request field (as in pydantic's errors).
_PLACES = frozenset({"body", "query", "path", "header"})


def not_found(what: str) -> HTTPException:
    """A 404 naming what was not found."""
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")


def invalid(loc: tuple[str, ...], msg: str, value: Any) -> RequestValidationError:
    """A 422 in the shape of every other input error: location, field, message, value."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


def conflict(loc: tuple[str, ...], msg: str, value: Any, **extra: Any) -> HTTPException:
    """A 409 in the shape of a 422 entry (``type`` ``conflict``): ``loc`` names the request
    field that clashes with an existing record (``("body", "code")``), or the stored field
    whose state refuses the request (``("state",)``); ``value`` is its value (never a
    secret or a person's data); ``extra`` keys are added (e.g. ``member_id``)."""
    field = ".".join(loc[1:] if loc and loc[0] in _PLACES else loc)
    entry = {"type": "conflict", "loc": list(loc), "field": field, "msg": msg, "value": value}
    return HTTPException(status.HTTP_409_CONFLICT, [{**entry, **extra}])


def load_complex(ctx: Ctx, complex_id: int, resource: Resource, action: Action) -> Complex:
    """The complex ``complex_id`` if the principal may ``action`` ``resource`` in it.

    Raises:
        HTTPException: 404 (absent or out of scope), 403 (role may not).
    """
    ctx.authorize(resource, "read")
    cx = ctx.session.get(Complex, complex_id)
    if cx is None:
        raise not_found("complex")
    ctx.authorize(resource, action, complex_ancestry(cx), f"complex:{complex_id}")
    return cx


def load_child(
    ctx: Ctx,
    model: type[M],
    row_id: int,
    resource: Resource,
    action: Action,
    name: str | None = None,
) -> M:
    """A row with a ``complex_id`` (space, device, staff ...) after the same checks; a
    404 names ``name`` (default: the resource)."""
    ctx.authorize(resource, "read")
    row: Any = ctx.session.get(model, row_id)
    if row is None:
        raise not_found(name or resource)
    cx = ctx.session.get_one(Complex, row.complex_id)
    ctx.authorize(resource, action, complex_ancestry(cx), f"{resource}:{row_id}")
    return row  # type: ignore[no-any-return]


def apply_update(row: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """Set changed attributes; return {field: new value} of what changed (for the audit)."""
    changed = {}
    for key, value in changes.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed[key] = (
                value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
            )
    return changed


def page_in_scope(
    ctx: Ctx,
    model: Any,
    resource: Resource,
    *,
    complex_id: int | None,
    space_id: int | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """One page of ``model`` rows (with ``complex_id`` and ``space_id`` columns) in the
    caller's subtree, optionally of one complex and one space, in id order: the list
    endpoints of checkpoints, task rules ... (403 unless the role may read ``resource``)."""
    ctx.authorize(resource, "read")
    stmt = select_in_scope(model, ctx.principal, complex_id=complex_id, space_id=space_id)
    return paginate(ctx.session, stmt, limit, offset, model.id)
