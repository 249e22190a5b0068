"""Access checks of the health-kiosk routes (issue 7), every refusal audited as denied.

Health data is sensitive personal information (PIPL art. 28): the audit log records who
tried to read or change it and was refused, not only who succeeded (art. 51). A refusal
is recorded in its own transaction (the request's is rolled back) with the route's
audit action, the target as internal ids (``vital_member:12``, ``complex:3``,
``alert:7``) and ``{"status": 403 | 404 | 422}``; a 422 also says why (``purpose``
missing or not allowed), never the value sent.

- :func:`require`: the role may not do this at all -> 403 ``<role> may not <verb>``.
- :func:`guarded`: the row is absent or out of the caller's scope -> 404
  ``<what> not found`` (reads audited here; out-of-scope writes are audited by
  :meth:`facility_server.api.deps.Ctx.authorize`).
- :func:`checked_purpose`: the purpose of a read of values is missing or not in the
  route's list -> 422 naming the field and the allowed values.
- :func:`vitals_error`: a :class:`~facility_server.vitals.consent.VitalsError` as a 422
  or 409 in the shape of every other one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar, get_args

from fastapi import HTTPException, Query, status

from facility_server.api.deps import Ctx
from facility_server.api.errors import HIDDEN
from facility_server.api.routes.helpers import conflict, invalid, load_complex
from facility_server.api.schemas.vitals import ReadPurpose
from facility_server.auth import audit
from facility_server.auth.roles import Resource, may
from facility_server.models import Complex
from facility_server.vitals.consent import VitalsConflict, VitalsError

T = TypeVar("T")
#: Why a person reads reading values (audited with every read).
READ_PURPOSES: tuple[str, ...] = get_args(ReadPurpose)
#: The only purpose of an erasure (PIPL art. 47: on the member's request).
ERASE_PURPOSES = ("member_request",)
#: The ``purpose`` query parameter; checked by :func:`checked_purpose` (so a refusal is
#: audited), its allowed values listed in the OpenAPI schema.
PurposeQuery = Annotated[
    str | None,
    Query(
        description="Why: crisis_follow_up, care_review or member_request (kept in the "
        "audit log; erasure: member_request only).",
        json_schema_extra={"enum": list(READ_PURPOSES)},
    ),
]


def deny(ctx: Ctx, action: str, target: str, code: int, reason: str | None = None) -> None:
    """Record a refused request as ``denied`` (own transaction)."""
    detail: dict[str, Any] = {"status": code}
    if reason:
        detail["reason"] = reason
    audit.record_now(ctx.factory, ctx.principal, action, target, "denied", detail)


def require(
    ctx: Ctx, resource: Resource, access: Literal["read", "write"], action: str, target: str,
    verb: str,
) -> None:  # fmt: skip
    """403 (audited as ``action`` on ``target``) unless the role may ``access``
    ``resource``; the message says ``<role> may not <verb>`` (e.g. ``create members``)."""
    if not may(ctx.principal, resource, access):
        deny(ctx, action, target, status.HTTP_403_FORBIDDEN)
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{ctx.principal.role} may not {verb}")


def guarded(
    ctx: Ctx, action: str, target: str, what: str, load: Callable[[], T], *, write: bool = False
) -> T:
    """``load()``, with its 404 said as ``<what> not found``; a refused read (403, 404) is
    audited (a refused write is audited by ``Ctx.authorize``)."""
    try:
        return load()
    except HTTPException as exc:
        refused = exc.status_code in (status.HTTP_403_FORBIDDEN, status.HTTP_404_NOT_FOUND)
        if refused and not write:
            deny(ctx, action, target, exc.status_code)
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found") from exc
        raise


def guarded_complex(
    ctx: Ctx, complex_id: int, resource: Resource, access: Literal["read", "write"],
    action: str, verb: str,
) -> Complex:  # fmt: skip
    """The complex if the caller may ``access`` ``resource`` in it: :func:`require`, then
    :func:`guarded` (``complex not found``), audited as ``action`` on ``complex:ID``."""
    target = f"complex:{complex_id}"
    require(ctx, resource, access, action, target, verb)
    return guarded(
        ctx, action, target, "complex",
        lambda: load_complex(ctx, complex_id, resource, access), write=access == "write",
    )  # fmt: skip


def checked_purpose(
    ctx: Ctx, value: str | None, action: str, target: str, allowed: tuple[str, ...] = READ_PURPOSES
) -> str:
    """``value`` when it is one of ``allowed``; else 422 naming ``purpose`` and the value
    (audited as denied)."""
    if value in allowed:
        return value
    reason = "purpose missing" if value is None else "purpose not allowed"
    deny(ctx, action, target, status.HTTP_422_UNPROCESSABLE_CONTENT, reason)
    raise invalid(("query", "purpose"), f"{reason}: use one of {', '.join(allowed)}", value)


def vitals_error(exc: VitalsError, where: str | None = "body") -> Exception:
    """The API error of ``exc``, in the one shape of 422 and 409 entries: 409 for a
    :class:`VitalsConflict` (with its ``extra`` keys, e.g. ``member_id``), else 422.
    ``loc`` is ``(where, field)``: ``body``, ``query``, or None for a stored field (a
    consent's ``withdrawn_at``). A body value is shown as ``***`` (as every 422 of these
    routes; :mod:`facility_server.api.errors`); :class:`VitalsError` never holds a
    pseudonym, a name or a reading value anyway."""
    loc = (where, exc.field) if where else (exc.field,)
    if isinstance(exc, VitalsConflict):
        value = HIDDEN if where == "body" else exc.value
        return conflict(loc, str(exc), value, **exc.extra)
    return invalid(loc, str(exc), exc.value)
