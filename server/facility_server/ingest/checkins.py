"""Store a check-in once per event id and re-evaluate the tasks of its space.

The check-in's time is the event's time by the gateway's rules
(:func:`facility_gateway.mapping.event_time`: device time when synchronised, else
``received - (sent - mono)``), so a disinfection badged at 08:55 while the edge was
offline and delivered at 11:00 counts at 08:55. A check-in is ``accepted`` only with a
known badge of an active staff member and a known checkpoint of the named space; others
are kept (with ``reject_reason``) but satisfy nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from facility_contracts.envelope import CheckIn as CheckInEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import to_datetime, to_ms
from facility_server.compliance.tick import on_checkin
from facility_server.core.db import insert_ignore
from facility_server.ingest.timing import point_time
from facility_server.models import Badge, CheckIn, Checkpoint, Complex, Space, Staff

logger = logging.getLogger(__name__)


def _verdict(
    session: Session, cx: Complex, event: CheckInEvent
) -> tuple[int | None, int | None, str]:
    """(space id, staff id, reject reason or "")."""
    body = event.body
    space_id = session.scalar(
        select(Space.id).where(Space.complex_id == cx.id, Space.code == body.space)
    )
    staff = session.execute(
        select(Staff.id, Staff.active)
        .join(Badge, Badge.staff_id == Staff.id)
        .where(Badge.complex_id == cx.id, Badge.uid == body.badge)
    ).first()
    cp_space = session.scalar(
        select(Checkpoint.space_id).where(
            Checkpoint.complex_id == cx.id, Checkpoint.code == body.checkpoint
        )
    )
    staff_id = None if staff is None else staff[0]
    if space_id is None:
        return None, staff_id, "unknown_space"
    if staff is None:
        return space_id, None, "unknown_badge"
    if not staff[1]:
        return space_id, staff_id, "inactive_staff"
    if cp_space is None:
        return space_id, staff_id, "unknown_checkpoint"
    if cp_space != space_id:
        return space_id, staff_id, "checkpoint_in_other_space"
    return space_id, staff_id, ""


def _row(session: Session, cx: Complex, event: CheckInEvent, received_ms: int) -> dict[str, Any]:
    """The ``checkins`` row of ``event`` received at ``received_ms`` (UTC ms)."""
    ts_ms, clock, reason = point_time(event, received_ms)
    space_id, staff_id, why = _verdict(session, cx, event)
    reason = reason or why
    body = event.body
    return {
        "event_id": event.id,
        "complex_id": cx.id,
        "space_id": space_id,
        "space_code": body.space,
        "checkpoint_code": body.checkpoint,
        "device_code": event.device,
        "task": body.task,
        "method": body.method,
        "proof": body.proof,
        "badge": body.badge,
        "staff_id": staff_id,
        "accepted": not reason,
        "reject_reason": reason,
        "clock": clock,
        "ts": to_datetime(ts_ms),
        "ts_ms": ts_ms,
        "received_ms": received_ms,
    }


def store_checkin(session: Session, cx: Complex, event: CheckInEvent, now: datetime) -> bool:
    """Store ``event`` once (``INSERT ... ON CONFLICT DO NOTHING`` on the event id); when
    new and accepted, re-evaluate its space's rules at ``now``.

    Returns:
        True when the check-in was new.
    """
    values = _row(session, cx, event, to_ms(now))
    if not insert_ignore(session, CheckIn, values, ["event_id"]):
        return False
    if values["reject_reason"]:
        logger.warning(
            "check-in not accepted: %s",
            values["reject_reason"],
            extra={"site": cx.site_id, "device": event.device, "event_id": event.id},
        )
    elif values["space_id"] is not None:
        on_checkin(session, values["space_id"], values["ts_ms"], now)
    return True
