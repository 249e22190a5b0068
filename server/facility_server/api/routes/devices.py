"""Devices, the device-health list and MQTT credentials."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, status
from sqlalchemy import select

from facility_server.api.common import IdFilter, IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import CtxDep
from facility_server.api.routes.helpers import (
    apply_update,
    conflict,
    invalid,
    load_child,
    load_complex,
)
from facility_server.api.schemas.devices import (
    DeviceCreate,
    DeviceCredentials,
    DeviceHealthPublic,
    DevicePublic,
    DeviceUpdate,
)
from facility_server.api.scope import complex_condition
from facility_server.auth.passwords import hash_secret
from facility_server.domain import VIA_AGENT, DeviceKind
from facility_server.health.evaluate import HealthState
from facility_server.models import Complex, Device, Space

router = APIRouter(tags=["devices"])


def _scoped(
    ctx: CtxDep, district_id: int | None, street_id: int | None, complex_id: int | None
) -> Any:
    stmt = (
        select(Device)
        .join(Complex, Complex.id == Device.complex_id)
        .where(complex_condition(ctx.principal))
    )
    for column, value in (
        (Complex.district_id, district_id),
        (Complex.street_id, street_id),
        (Device.complex_id, complex_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


@router.get("/devices", response_model=Page[DevicePublic])
def list_devices(
    ctx: CtxDep,
    complex_id: IdFilter = None,
    district_id: IdFilter = None,
    street_id: IdFilter = None,
    kind: DeviceKind | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Devices in the caller's subtree, filtered by region, complex and kind."""
    ctx.authorize("device", "read")
    stmt = _scoped(ctx, district_id, street_id, complex_id)
    if kind is not None:
        stmt = stmt.where(Device.kind == kind)
    return paginate(ctx.session, stmt, limit, offset, Device.id)


@router.get("/device-health", response_model=Page[DeviceHealthPublic])
def device_health(
    ctx: CtxDep,
    district_id: IdFilter = None,
    street_id: IdFilter = None,
    complex_id: IdFilter = None,
    health: HealthState | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Device health (online, offline, never_seen) as of the last health tick."""
    ctx.authorize("device", "read")
    stmt = _scoped(ctx, district_id, street_id, complex_id)
    if health is not None:
        stmt = stmt.where(Device.health == health)
    return paginate(ctx.session, stmt, limit, offset, Device.id)


@router.get("/devices/{device_id}", response_model=DevicePublic)
def get_device(ctx: CtxDep, device_id: IdPath) -> Device:
    """One device."""
    return load_child(ctx, Device, device_id, "device", "read")


def _check_refs(ctx: CtxDep, complex_id: int, space_id: int | None, via_id: int | None) -> None:
    if space_id is not None:
        space = ctx.session.get(Space, space_id)
        if space is None or space.complex_id != complex_id:
            raise invalid(("body", "space_id"), "no such space in this complex", space_id)
    if via_id is not None:
        via = ctx.session.get(Device, via_id)
        if via is None or via.complex_id != complex_id or via.kind != DeviceKind.edge_agent:
            raise invalid(("body", "via_id"), "no such edge agent in this complex", via_id)


@router.post("/devices", response_model=DevicePublic, status_code=status.HTTP_201_CREATED)
def create_device(ctx: CtxDep, body: DeviceCreate) -> Device:
    """Register a device."""
    load_complex(ctx, body.complex_id, "device", "write")
    _check_refs(ctx, body.complex_id, body.space_id, body.via_id)
    values = body.model_dump()
    values.update(kind=str(body.kind), transport=str(body.transport))
    row = Device(**values, health="never_seen")
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("device.create", f"device:{row.id}", {"code": row.code})
    return row


@router.patch("/devices/{device_id}", response_model=DevicePublic)
def update_device(ctx: CtxDep, device_id: IdPath, body: DeviceUpdate) -> Device:
    """Change a device."""
    row = load_child(ctx, Device, device_id, "device", "write")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    _check_refs(ctx, row.complex_id, changes.get("space_id"), changes.get("via_id"))
    ctx.audit("device.update", f"device:{row.id}", apply_update(row, changes))
    return row


@router.post(
    "/devices/{device_id}/credentials",
    response_model=DeviceCredentials,
    status_code=status.HTTP_201_CREATED,
)
def issue_credentials(ctx: CtxDep, device_id: IdPath) -> DeviceCredentials:
    """Issue new MQTT credentials; the secret is shown once and only its hash is kept.

    A serial or local_mqtt device gets none (409 naming its ``transport``): it publishes
    through its edge agent.
    """
    row = load_child(ctx, Device, device_id, "device", "write")
    if row.transport in VIA_AGENT:
        raise conflict(
            ("transport",),
            f"a {row.transport} device has no central MQTT credentials: its edge agent "
            "(via_id) publishes for it; issue credentials to the edge agent",
            row.transport,
        )
    cx = ctx.session.get_one(Complex, row.complex_id)
    secret = secrets.token_urlsafe(24)
    row.mqtt_username = f"{cx.site_id}.{row.code}"
    row.mqtt_secret_hash = hash_secret(secret)
    ctx.audit("device.credentials", f"device:{row.id}", {"username": row.mqtt_username})
    return DeviceCredentials(username=row.mqtt_username, secret=secret)
