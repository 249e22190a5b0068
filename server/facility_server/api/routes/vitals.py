"""Health-kiosk readings and usage (issue 7).

- Counts (``/usage``): every person role in scope (managers, inspectors, clinicians,
  admin, staff); machines are refused (403).
- Values (readings, the weekly list, FHIR export, one crisis in full): resource
  ``health_reading``, i.e. the clinician only, in scope (out of scope 404, other roles
  403). Each read needs a ``purpose`` from a fixed list and is audited with it (internal
  ids only); a refused read is audited as denied.
- Crisis alerts (``/crises``): the clinician lists, acknowledges and resolves them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from facility_server.alerts import AlertStateError, acknowledge, resolve
from facility_server.api.common import IdFilter, IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import Ctx, CtxDep
from facility_server.api.routes.helpers import load_child, load_complex
from facility_server.api.routes.vitals_members import Purpose
from facility_server.api.schemas.ops import AlertPublic
from facility_server.api.schemas.vitals import CrisisPublic, CrisisResolve, ReadingPublic
from facility_server.api.scope import visible_complex_ids
from facility_server.auth import audit
from facility_server.domain import Day, Instant
from facility_server.models import Alert, KioskSession, Member, Reading
from facility_server.vitals.consent import VitalsError
from facility_server.vitals.crisis import KIND
from facility_server.vitals.fhir import bundle_json, member_bundle
from facility_server.vitals.usage import usage_summary
from facility_server.vitals.weekly import WEEK_PATTERN, weekly_list

router = APIRouter(prefix="/vitals", tags=["vitals"])
MAX_DAYS = 400


def _values(ctx: Ctx, action: str, target: str, load: Any) -> Any:
    """Run ``load`` (which authorizes ``health_reading``); audit a refusal as denied."""
    try:
        return load()
    except HTTPException as exc:
        if exc.status_code in (403, 404):
            audit.record_now(
                ctx.factory, ctx.principal, action, target, "denied", {"status": exc.status_code}
            )
        raise


def _member(ctx: Ctx, member_id: int, action: str) -> Member:
    """The member whose values the caller may read (clinician in scope), else 403/404
    (audited as denied)."""
    return _values(  # type: ignore[no-any-return]
        ctx,
        action,
        f"vital_member:{member_id}",
        lambda: load_child(ctx, Member, member_id, "health_reading", "read"),
    )


def _reading(r: Reading) -> dict[str, Any]:
    return {
        "id": r.id,
        "session_id": r.session_id,
        "type": r.type,
        "value": r.value,
        "unit": r.unit,
        "loinc": r.loinc,
        "flag": r.flag,
        "ts": r.ts,
        "space": r.space_code,
        "kiosk": r.device_code,
    }


@router.get("/complexes/{complex_id}/usage")
def complex_usage(
    ctx: CtxDep,
    complex_id: IdPath,
    start: Annotated[Day, Query(description="First local date (inclusive).")],
    end: Annotated[Day, Query(description="Last local date (exclusive).")],
) -> dict[str, Any]:
    """Kiosk usage counts over local days ``[start, end)``: sessions, distinct members per
    hour, consented and crisis sessions per space; readings per type with the share outside
    the reference range; edge rejections per kiosk and reason; crisis alerts by state.
    No values, no members."""
    if ctx.principal.is_machine:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{ctx.principal.role} may not read usage")
    cx = load_complex(ctx, complex_id, "complex", "read")
    if end <= start or (end - start).days > MAX_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"end must be 1..{MAX_DAYS} days after start"
        )
    return usage_summary(ctx.session, cx, start, end)


@router.get("/members/{member_id}/readings", response_model=Page[ReadingPublic])
def member_readings(
    ctx: CtxDep,
    member_id: IdPath,
    purpose: Purpose,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """A member's kept readings, newest first (clinician only; audited with ``purpose``)."""
    target = f"vital_member:{member_id}"
    member = _member(ctx, member_id, "vital_reading.read")
    stmt = select(Reading).where(Reading.member_id == member.id)
    if since is not None:
        stmt = stmt.where(Reading.ts >= since)
    if until is not None:
        stmt = stmt.where(Reading.ts < until)
    page = paginate(ctx.session, stmt, limit, offset, Reading.ts.desc())
    page["items"] = [_reading(r) for r in page["items"]]
    ctx.audit("vital_reading.read", target, {"purpose": purpose, "readings": len(page["items"])})
    return page


@router.get("/members/{member_id}/fhir")
def member_fhir(ctx: CtxDep, member_id: IdPath, purpose: Purpose) -> JSONResponse:
    """A member's readings as a FHIR R4B Bundle (``application/fhir+json``) of
    Observations: LOINC codes, UCUM units (clinician only; audited with ``purpose``)."""
    target = f"vital_member:{member_id}"
    member = _member(ctx, member_id, "vital_reading.export")
    doc = bundle_json(member_bundle(ctx.session, member, ctx.now))
    ctx.audit(
        "vital_reading.export",
        target,
        {"purpose": purpose, "observations": len(doc.get("entry", []))},
    )
    return JSONResponse(doc, media_type="application/fhir+json")


@router.get("/complexes/{complex_id}/elevated")
def weekly_elevated(
    ctx: CtxDep,
    complex_id: IdPath,
    week: Annotated[str, Query(pattern=WEEK_PATTERN, description="ISO week, e.g. 2026-W23.")],
    purpose: Purpose,
) -> dict[str, Any]:
    """Members with >= 2 occasions of readings outside the reference range in the ISO week
    (local dates; clinician only; audited with ``purpose``)."""
    cx = _values(
        ctx,
        "vital_reading.weekly",
        f"complex:{complex_id}",
        lambda: load_complex(ctx, complex_id, "health_reading", "read"),
    )
    try:
        result = weekly_list(ctx.session, cx, week)
    except VitalsError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"msg": str(exc), "field": exc.field, "value": exc.value},
        ) from exc
    ctx.audit(
        "vital_reading.weekly",
        f"complex:{cx.id}",
        {"purpose": purpose, "week": week, "members": [m["member_id"] for m in result["members"]]},
    )
    return result


@router.get("/crises", response_model=Page[AlertPublic])
def list_crises(
    ctx: CtxDep,
    state: Literal["open", "acknowledged", "resolved"] | None = None,
    complex_id: IdFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Crisis alerts in the caller's subtree, newest first (kiosk, space, time; no value)."""
    ctx.authorize("health_reading", "read")
    stmt = select(Alert).where(
        Alert.kind == KIND, Alert.complex_id.in_(visible_complex_ids(ctx.principal))
    )
    if state is not None:
        stmt = stmt.where(Alert.state == state)
    if complex_id is not None:
        stmt = stmt.where(Alert.complex_id == complex_id)
    return paginate(ctx.session, stmt, limit, offset, Alert.id.desc())


def _crisis(ctx: Ctx, alert_id: int, action: Literal["read", "write"]) -> Alert:
    ctx.authorize("health_reading", "read")
    alert = ctx.session.get(Alert, alert_id)
    if alert is None or alert.kind != KIND or alert.complex_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "crisis alert not found")
    return load_child(ctx, Alert, alert_id, "health_reading", action)


@router.get("/crises/{alert_id}", response_model=CrisisPublic)
def get_crisis(ctx: CtxDep, alert_id: IdPath, purpose: Purpose) -> dict[str, Any]:
    """One crisis alert with its session's values and member (when they had consent);
    clinician only, audited with ``purpose``."""
    alert = _values(
        ctx, "vital_reading.read", f"alert:{alert_id}", lambda: _crisis(ctx, alert_id, "read")
    )
    row = ctx.session.scalar(select(KioskSession).where(KioskSession.alert_id == alert.id))
    member = ctx.session.get(Member, row.member_id) if row and row.member_id else None
    readings = (
        list(ctx.session.scalars(select(Reading).where(Reading.session_id == row.id)))
        if row
        else []
    )
    ctx.audit(
        "vital_reading.read",
        f"alert:{alert.id}",
        {"purpose": purpose, "member_id": member.id if member else None, "readings": len(readings)},
    )
    return {
        "alert_id": alert.id,
        "state": alert.state,
        "title": alert.title,
        "opened_at": alert.opened_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "resolved_at": alert.resolved_at,
        "kiosk": alert.detail.get("kiosk", ""),
        "space": alert.detail.get("space", ""),
        "ts": row.ts if row else None,
        "member": {"id": member.id, "display_name": member.display_name} if member else None,
        "readings": [_reading(r) for r in readings],
    }


def _step(
    ctx: Ctx, alert_id: int, action: str, change: Any, detail: dict[str, Any] | None = None
) -> Alert:
    """Apply ``change`` to a crisis alert the clinician may write; 409 when the lifecycle
    refuses it; audited as ``action``."""
    alert = _crisis(ctx, alert_id, "write")
    try:
        change(alert)
    except AlertStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    ctx.audit(action, f"alert:{alert.id}", detail)
    return alert


@router.post("/crises/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge_crisis(ctx: CtxDep, alert_id: IdPath) -> Alert:
    """The clinician on duty takes the crisis (409 unless open); it stops escalating."""
    return _step(
        ctx,
        alert_id,
        "alert.acknowledge",
        lambda a: acknowledge(a, ctx.principal.username, ctx.now),
    )


@router.post("/crises/{alert_id}/resolve", response_model=AlertPublic)
def resolve_crisis(ctx: CtxDep, alert_id: IdPath, body: CrisisResolve) -> Alert:
    """Close the follow-up with an outcome from a fixed list, no free text: the alert and
    its notifications are read by non-clinicians (409 when resolved already)."""
    return _step(
        ctx,
        alert_id,
        "alert.resolve",
        lambda a: resolve(a, body.resolution, ctx.now),
        {"resolution": body.resolution},
    )
