"""Load-and-authorize helpers shared by the routes."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import HTTPException, status
from fastapi.exceptions import RequestValidationError

from facility_server.api.deps import Ctx
from facility_server.api.scope import complex_ancestry
from facility_server.auth.roles import Action, Resource
from facility_server.models import Complex

M = TypeVar("M")


def not_found(what: str) -> HTTPException:
    """A 404 naming what was not found."""
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")


def invalid(loc: tuple[str, ...], msg: str, value: Any) -> RequestValidationError:
    """A 422 in the shape of every other input error: location, field, message, value."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


def conflict(field: str, msg: str, value: Any) -> HTTPException:
    """A 409 naming the field and the value that clash with an existing record."""
    entry = {"type": "conflict", "loc": ["body", field], "field": field, "msg": msg}
    return HTTPException(status.HTTP_409_CONFLICT, [{**entry, "value": value}])


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
