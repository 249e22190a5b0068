"""Store what arrives (pure of MQTT): status -> device state, events -> rows, once each.

Events are idempotent by event id: a unique column and ``INSERT ... ON CONFLICT DO
NOTHING`` (SQLite and PostgreSQL), so a redelivered QoS 1 message is stored once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from facility_contracts.envelope import HEALTHY_READER_STATES, Event, SatisfactionVote, Status
from facility_contracts.envelope import CheckIn as CheckInEvent
from facility_contracts.envelope import DeviceNotice as NoticeEvent
from facility_contracts.envelope import DoorCrossing as CrossingEvent
from facility_contracts.envelope import HealthReading as HealthReadingEvent
from facility_contracts.topics import Topic
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.core.db import insert_ignore
from facility_server.ingest.checkins import store_checkin
from facility_server.models import Complex, Device, DeviceNotice, DoorCrossing, Space

logger = logging.getLogger(__name__)
#: Per-device states in an edge agent's status that mean the device works (the edge
#: reports ``reading``, see facility_contracts.envelope.DEVICE_READER_STATES).
HEALTHY = HEALTHY_READER_STATES | {"ok", "online", "up"}


def _device(session: Session, site: str, code: str) -> tuple[Complex, Device] | None:
    row = session.execute(
        select(Complex, Device)
        .join(Device, Device.complex_id == Complex.id)
        .where(Complex.site_id == site, Device.code == code)
    ).first()
    return None if row is None else (row[0], row[1])


def store_status(
    session: Session, topic: Topic, status: Status, now: datetime, *, retained: bool = False
) -> bool:
    """Record a status (or last will) of ``topic.device``; False for an unknown device.

    ``last_seen`` is the server's receive time (device clocks may be wrong); for a
    retained message replayed at subscribe time, the status ``ts`` when it is older.
    A status's ``devices`` map updates the serial devices the agent reads.
    """
    found = _device(session, topic.site, topic.device)
    if found is None:
        logger.info(
            "status from unknown device %s/%s (not in the registry)",
            topic.site,
            topic.device,
            extra={"site": topic.site, "device": topic.device},
        )
        return False
    cx, dev = found
    seen = now
    if retained and status.ts is not None:
        seen = min(now, datetime.fromtimestamp(status.ts / 1000, UTC))
    dev.state = status.state
    if status.state == "online":
        dev.last_seen = seen
        dev.heartbeat_s = status.heartbeat_s or dev.heartbeat_s
        dev.boot, dev.software = status.boot or dev.boot, status.software or dev.software
    for code, value in (status.devices or {}).items():
        child = session.scalar(
            select(Device).where(Device.complex_id == cx.id, Device.code == code)
        )
        if child is None:
            continue
        child.state = (
            "online" if status.state == "online" and value.lower() in HEALTHY else "offline"
        )
        child.heartbeat_s = dev.heartbeat_s
        if child.state == "online":
            child.last_seen = seen
    session.flush()
    return True


def store_event(
    session: Session,
    topic: Topic,
    event: Event,
    now: datetime,
    *,
    vitals_retention_days: int | None = None,
) -> bool:
    """Store a door crossing, device notice, check-in, satisfaction vote or health reading
    once; False when a duplicate or unknown. A new check-in re-evaluates its space's task
    rules (issue 5); a health reading keeps values only with consent (issue 7,
    :mod:`facility_server.vitals.ingest`; ``vitals_retention_days``: the readings'
    retention, default the settings')."""
    cx = session.scalar(select(Complex).where(Complex.site_id == topic.site))
    if cx is None:
        logger.info(
            "event %s from unknown site %s (device %s)",
            event.id,
            topic.site,
            topic.device,
            extra={"site": topic.site, "device": topic.device, "event_id": event.id},
        )
        return False
    ts = datetime.fromtimestamp(event.ts / 1000, UTC)
    if isinstance(event, CrossingEvent):
        space_id = session.scalar(
            select(Space.id).where(Space.complex_id == cx.id, Space.code == event.body.space)
        )
        return insert_ignore(
            session,
            DoorCrossing,
            {
                "event_id": event.id,
                "complex_id": cx.id,
                "space_id": space_id,
                "space_code": event.body.space,
                "device_code": event.device,
                "ts": ts,
                "people_in": event.body.in_,
                "people_out": event.body.out,
                "received_at": now,
            },
            ["event_id"],
        )
    if isinstance(event, NoticeEvent):
        return insert_ignore(
            session,
            DeviceNotice,
            {
                "event_id": event.id,
                "complex_id": cx.id,
                "device_code": event.device,
                "code": event.body.code,
                "detail": event.body.detail,
                "ts": ts,
            },
            ["event_id"],
        )
    if isinstance(event, CheckInEvent):
        return store_checkin(session, cx, event, now)
    if isinstance(event, SatisfactionVote):
        from facility_server.satisfaction.store import store_vote

        return store_vote(session, cx, event, now)
    if isinstance(event, HealthReadingEvent):
        from facility_server.vitals.ingest import store_reading

        return store_reading(session, cx, event, now, retention_days=vitals_retention_days)
    return False  # pragma: no cover - a kind added to the contract but not stored yet
