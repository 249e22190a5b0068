"""Alerts: list, acknowledge, resolve (the one lifecycle of facility_server.alerts)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from facility_server.alerts import AlertStateError, acknowledge, resolve
from facility_server.api.common import IdFilter, IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import CtxDep
from facility_server.api.routes.helpers import conflict, invalid, load_child
from facility_server.api.schemas.ops import AlertPublic, AlertResolve
from facility_server.api.scope import visible_complex_ids
from facility_server.auth import audit
from facility_server.auth.roles import Action
from facility_server.models import Alert
from facility_server.vitals import crisis

router = APIRouter(prefix="/alerts", tags=["alerts"])
AlertKind = Literal[
    "device_offline",
    "edge_offline",
    "complex_offline",
    "task_missed",
    "opening_quota",
    "vital_crisis",
]
#: Alert kinds with routes of their own (kind -> their prefix), refused here. A health-kiosk
#: crisis: only the clinician on duty acknowledges it (anyone else would stop its
#: escalation), and it is resolved with an outcome from a fixed list (its notes go to chat
#: groups: no free text about a person's health).
_OWN_ROUTES = {crisis.KIND: crisis.API_ROUTE}


@router.get("", response_model=Page[AlertPublic])
def list_alerts(
    ctx: CtxDep,
    state: Literal["open", "acknowledged", "resolved"] | None = None,
    kind: AlertKind | None = None,
    complex_id: IdFilter = None,
    escalation_level: Annotated[int | None, Query(ge=0, le=2)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Alerts in the caller's subtree, newest first."""
    ctx.authorize("alert", "read")
    stmt = select(Alert).where(Alert.complex_id.in_(visible_complex_ids(ctx.principal)))
    for column, value in (
        (Alert.state, state),
        (Alert.kind, kind),
        (Alert.complex_id, complex_id),
        (Alert.escalation_level, escalation_level),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return paginate(ctx.session, stmt, limit, offset, Alert.id.desc())


@router.get("/{alert_id}", response_model=AlertPublic)
def get_alert(ctx: CtxDep, alert_id: IdPath) -> Alert:
    """One alert."""
    return _load(ctx, alert_id, "read")


def _load(ctx: CtxDep, alert_id: int, action: Action) -> Alert:
    ctx.authorize("alert", "read")
    alert = ctx.session.get(Alert, alert_id)
    if alert is None or alert.complex_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "alert not found")
    return load_child(ctx, Alert, alert_id, "alert", action)


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge_alert(ctx: CtxDep, alert_id: IdPath) -> Alert:
    """Acknowledge an open alert (409 naming the state when it is not open); it stops
    escalating. A
    health-kiosk crisis only by a clinician, through /vitals/crises/{id}/acknowledge
    (403 here, audited as denied): acknowledging stops its escalation to the street and
    district clinicians. Allowed to whoever escalation tells: complex manager, staff and
    inspectors in scope (resolving is the manager's)."""
    alert = _load(ctx, alert_id, "acknowledge")
    if alert.kind in _OWN_ROUTES:
        audit.record_now(
            ctx.factory, ctx.principal, "alert.acknowledge", f"alert:{alert.id}", "denied",
            {"status": 403, "kind": alert.kind},
        )  # fmt: skip
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"{ctx.principal.role} may not acknowledge a {alert.kind} alert: the clinician "
            f"on duty acknowledges it through {_OWN_ROUTES[alert.kind]}/{alert.id}/acknowledge",
        )
    try:
        acknowledge(alert, ctx.principal.username, ctx.now)
    except AlertStateError as exc:
        raise conflict(("state",), str(exc), alert.state) from exc
    ctx.audit("alert.acknowledge", f"alert:{alert.id}")
    return alert


@router.post("/{alert_id}/resolve", response_model=AlertPublic)
def resolve_alert(ctx: CtxDep, alert_id: IdPath, body: AlertResolve | None = None) -> Alert:
    """Resolve an alert by hand (409 naming the state when already resolved; 422 for a
    health-kiosk crisis, resolved through its own route); no body = fixed, no note."""
    body = body or AlertResolve(note=None)
    alert = _load(ctx, alert_id, "write")
    if alert.kind in _OWN_ROUTES:
        raise invalid(
            ("path", "alert_id"),
            f"a {alert.kind} alert is resolved through {_OWN_ROUTES[alert.kind]}/{alert.id}/"
            "resolve (an outcome from a fixed list; no free text about a person's health)",
            alert.id,
        )
    try:
        resolve(alert, body.resolution, ctx.now, body.note)
    except AlertStateError as exc:
        raise conflict(("state",), str(exc), alert.state) from exc
    ctx.audit("alert.resolve", f"alert:{alert.id}", {"resolution": body.resolution})
    return alert
