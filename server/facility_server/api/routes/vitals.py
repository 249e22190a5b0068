"""Health-kiosk readings and usage (issue 7).

- Counts (``/usage``): every person role in scope (managers, inspectors, clinicians,
  admin, staff); machines are refused (403).
- Values (readings, the weekly list, FHIR export, one crisis in full): resource
  ``health_reading``, i.e. the clinician only, in scope (out of scope 404, other roles
  403). Each read needs a ``purpose`` from a fixed list (422 otherwise) and is audited
  with it (internal ids only); every refusal (403, 404, 422) is audited as denied
  (:mod:`.vitals_guard`).
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
from facility_server.api.routes.helpers import conflict, load_child, load_complex
from facility_server.api.routes.vitals_guard import (
    PurposeQuery,
    checked_purpose,
    deny,
    guarded,
    guarded_complex,
    require,
    vitals_error,
)
from facility_server.api.routes.vitals_members import load_member
from facility_server.api.schemas.ops import AlertPublic
from facility_server.api.schemas.vitals import CrisisPublic, CrisisResolve, ReadingPublic
from facility_server.api.scope import visible_complex_ids
from facility_server.domain import Day, Instant
from facility_server.models import Alert, KioskSession, Member, Reading
from facility_server.vitals.consent import VitalsError
from facility_server.vitals.crisis import KIND
from facility_server.vitals.fhir import bundle_json, member_bundle
from facility_server.vitals.usage import usage_summary
from facility_server.vitals.weekly import WEEK_PATTERN, weekly_list

router = APIRouter(prefix="/vitals", tags=["vitals"])


def _values_of(ctx: Ctx, member_id: int, action: str, purpose: str | None) -> tuple[Member, str]:
    """The member whose values the caller may read (clinician in scope) and the checked
    purpose; 403 / 404 / 422 otherwise, audited as denied."""
    member = load_member(ctx, member_id, action, "read", "health_reading", "read reading values")
    return member, checked_purpose(ctx, purpose, action, f"vital_member:{member_id}")


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
    """Kiosk usage counts over local days ``[start, end)``: sessions, member-hours
    (distinct members per hour, summed), consented and crisis sessions per space; readings
    per type with the share outside the reference range; rejected readings per kiosk and
    reason; crisis alerts opened in the range by state. No values, no members."""
    if ctx.principal.is_machine:
        deny(ctx, "vital_usage.read", f"complex:{complex_id}", status.HTTP_403_FORBIDDEN)
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{ctx.principal.role} may not read usage")
    cx = load_complex(ctx, complex_id, "complex", "read")
    try:
        return usage_summary(ctx.session, cx, start, end)
    except VitalsError as exc:
        raise vitals_error(exc, "query") from exc


@router.get("/members/{member_id}/readings", response_model=Page[ReadingPublic])
def member_readings(
    ctx: CtxDep,
    member_id: IdPath,
    purpose: PurposeQuery = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """A member's kept readings, newest first (clinician only; audited with ``purpose``)."""
    member, why = _values_of(ctx, member_id, "vital_reading.read", purpose)
    stmt = select(Reading).where(Reading.member_id == member.id)
    if since is not None:
        stmt = stmt.where(Reading.ts >= since)
    if until is not None:
        stmt = stmt.where(Reading.ts < until)
    page = paginate(ctx.session, stmt, limit, offset, Reading.ts.desc())
    page["items"] = [_reading(r) for r in page["items"]]
    ctx.audit(
        "vital_reading.read",
        f"vital_member:{member.id}",
        {"purpose": why, "readings": len(page["items"])},
    )
    return page


@router.get("/members/{member_id}/fhir")
def member_fhir(ctx: CtxDep, member_id: IdPath, purpose: PurposeQuery = None) -> JSONResponse:
    """A member's readings as a FHIR R4B Bundle (``application/fhir+json``) of
    Observations: LOINC codes, UCUM units (clinician only; audited with ``purpose``)."""
    member, why = _values_of(ctx, member_id, "vital_reading.export", purpose)
    doc = bundle_json(member_bundle(ctx.session, member, ctx.now))
    ctx.audit(
        "vital_reading.export",
        f"vital_member:{member.id}",
        {"purpose": why, "observations": len(doc.get("entry", []))},
    )
    return JSONResponse(doc, media_type="application/fhir+json")


@router.get("/complexes/{complex_id}/elevated")
def weekly_elevated(
    ctx: CtxDep,
    complex_id: IdPath,
    week: Annotated[str, Query(pattern=WEEK_PATTERN, description="ISO week, e.g. 2026-W23.")],
    purpose: PurposeQuery = None,
) -> dict[str, Any]:
    """Members with >= 2 occasions of readings outside the reference range in the ISO week
    (local dates; clinician only; audited with ``purpose``)."""
    action = "vital_reading.weekly"
    cx = guarded_complex(ctx, complex_id, "health_reading", "read", action, "read reading values")
    why = checked_purpose(ctx, purpose, action, f"complex:{complex_id}")
    try:
        result = weekly_list(ctx.session, cx, week)
    except VitalsError as exc:
        raise vitals_error(exc, "query") from exc
    ctx.audit(
        action,
        f"complex:{cx.id}",
        {"purpose": why, "week": week, "members": [m["member_id"] for m in result["members"]]},
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
    require(ctx, "health_reading", "read", "vital_crisis.list", "crises", "read crisis alerts")
    stmt = select(Alert).where(
        Alert.kind == KIND, Alert.complex_id.in_(visible_complex_ids(ctx.principal))
    )
    if state is not None:
        stmt = stmt.where(Alert.state == state)
    if complex_id is not None:
        stmt = stmt.where(Alert.complex_id == complex_id)
    return paginate(ctx.session, stmt, limit, offset, Alert.id.desc())


def _crisis(ctx: Ctx, alert_id: int, action: str, access: Literal["read", "write"]) -> Alert:
    """The crisis alert if the caller may ``access`` it (403 / 404 audited as ``action``)."""
    target = f"alert:{alert_id}"
    verb = "read crisis alerts" if access == "read" else "handle crisis alerts"
    require(ctx, "health_reading", access, action, target, verb)

    def load() -> Alert:
        alert = ctx.session.get(Alert, alert_id)
        if alert is None or alert.kind != KIND or alert.complex_id is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        return load_child(ctx, Alert, alert_id, "health_reading", access)

    return guarded(ctx, action, target, "crisis alert", load, write=access == "write")


def crisis_directions(flags: list[str]) -> list[dict[str, str]]:
    """``["spo2:low"]`` -> ``[{"type": "spo2", "direction": "low"}]``."""
    return [dict(zip(("type", "direction"), f.split(":", 1), strict=True)) for f in flags]


@router.get("/crises/{alert_id}", response_model=CrisisPublic)
def get_crisis(ctx: CtxDep, alert_id: IdPath, purpose: PurposeQuery = None) -> dict[str, Any]:
    """One crisis alert with its session: which readings were in a crisis range and in
    which direction (also for a member without consent), and the values and member when
    they had consent; clinician only, audited with ``purpose``."""
    action = "vital_reading.read"
    alert = _crisis(ctx, alert_id, action, "read")
    why = checked_purpose(ctx, purpose, action, f"alert:{alert_id}")
    row = ctx.session.scalar(select(KioskSession).where(KioskSession.alert_id == alert.id))
    member = ctx.session.get(Member, row.member_id) if row and row.member_id else None
    readings = (
        list(ctx.session.scalars(select(Reading).where(Reading.session_id == row.id)))
        if row
        else []
    )
    ctx.audit(
        action,
        f"alert:{alert.id}",
        {"purpose": why, "member_id": member.id if member else None, "readings": len(readings)},
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
        "identified": member is not None,
        "crisis_readings": crisis_directions(row.crisis_flags if row else []),
        "member": {"id": member.id, "display_name": member.display_name} if member else None,
        "readings": [_reading(r) for r in readings],
    }


def _step(
    ctx: Ctx, alert_id: int, action: str, change: Any, detail: dict[str, Any] | None = None
) -> Alert:
    """Apply ``change`` to a crisis alert the clinician may write; 409 naming the state
    when the lifecycle refuses it; audited as ``action`` (a refusal as denied)."""
    alert = _crisis(ctx, alert_id, action, "write")
    try:
        change(alert)
    except AlertStateError as exc:
        raise conflict(("state",), str(exc), alert.state) from exc
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
    """Close the follow-up with a ``resolution`` from a fixed list, no free text: the
    alert and its notifications are read by non-clinicians (409 when resolved already)."""
    return _step(
        ctx,
        alert_id,
        "alert.resolve",
        lambda a: resolve(a, body.resolution, ctx.now),
        {"resolution": body.resolution},
    )
