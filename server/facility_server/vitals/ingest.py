"""Store one ``health.reading`` event (called by :func:`facility_server.ingest.store.store_event`).

Steps, in the ingest's transaction:

1. Check the readings again (the codec's vital-sign check,
   :func:`facility_contracts.vitals.check_readings`; decoding did it already): a bad one
   is kept as a ``reading_rejected`` device notice ``reason=R field=F`` (the edge's
   format), never its value, so rejections are counted in one place.
2. Insert the session once by event id (``ON CONFLICT DO NOTHING``): a redelivered event
   stops here and changes nothing.
3. With a ``health_monitoring`` consent in force at the reading's time
   (:func:`facility_server.vitals.consent.consent_in_force`): keep each reading (value,
   unit, LOINC, flag of :func:`facility_contracts.vitals.classify`). Without consent, or
   for a pseudonym nobody enrolled: keep neither values nor any member reference.
4. Count the session in its space's local hour (:mod:`.counters`), every session alike.
5. A reading in a crisis range opens the crisis alert (:mod:`.crisis`).

The reading's time follows the gateway's rules (:func:`facility_gateway.mapping.event_time`):
device time when synchronised and plausible, else ``received - (sent - mono)``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from facility_contracts.codec import _check_health  # one check for every receiver
from facility_contracts.envelope import HealthReading
from facility_contracts.errors import ContractError
from facility_contracts.vitals import Flag, classify, is_crisis, is_outside_reference
from facility_gateway.mapping import event_time
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import to_datetime, to_ms
from facility_server.models import Complex, DeviceNotice, KioskSession, Reading, Space
from facility_server.vitals.consent import consent_in_force, member_by_pseudonym
from facility_server.vitals.counters import count_session, first_visit, hour_start_ms, insert_ignore
from facility_server.vitals.crisis import open_crisis

logger = logging.getLogger(__name__)
REJECTED = "reading_rejected"


def _reject(
    session: Session, cx: Complex, event: HealthReading, exc: ContractError, ts: datetime
) -> bool:
    logger.warning(
        "health reading %s rejected: %s (%s)",
        event.id,
        exc.reason,
        exc.field,
        extra={"site": cx.site_id, "device": event.device, "event_id": event.id},
    )
    return insert_ignore(
        session,
        DeviceNotice,
        {
            "event_id": event.id,
            "complex_id": cx.id,
            "device_code": event.device,
            "code": REJECTED,
            "detail": f"reason={exc.reason} field={exc.field}"[:200],
            "ts": ts,
        },
        ["event_id"],
    )


def _reading_time(event: HealthReading, now: datetime) -> tuple[datetime, str]:
    received_ms = to_ms(now)
    try:
        ts_ms, clock = event_time(event, received_ms, received_ms)
    except ContractError:
        ts_ms, clock = received_ms, "estimated"
    return to_datetime(ts_ms), clock


def store_reading(session: Session, cx: Complex, event: HealthReading, now: datetime) -> bool:
    """Store one measuring session (see the module doc).

    Returns:
        True when the session (or its rejection notice) was new; False for a redelivery.
    """
    ts, clock = _reading_time(event, now)
    try:
        _check_health(event)  # the codec's own check, run again in case it was bypassed
    except ContractError as exc:
        return _reject(session, cx, event, exc, ts)
    body = event.body
    space = session.scalar(select(Space).where(Space.complex_id == cx.id, Space.code == body.space))
    member = member_by_pseudonym(session, cx.id, body.member)
    kept_for = member.id if member and consent_in_force(session, member.id, ts) else None
    flags = [classify(r.type, r.value) for r in body.readings]
    values = {
        "event_id": event.id,
        "complex_id": cx.id,
        "space_id": space.id if space else None,
        "space_code": body.space,
        "device_code": event.device,
        "ts": ts,
        "clock": clock,
        "consented": kept_for is not None,
        "crisis": any(is_crisis(f) for f in flags),
        "member_id": kept_for,
        "received_at": now,
    }
    if not insert_ignore(session, KioskSession, values, ["event_id"]):
        return False
    row = session.scalars(select(KioskSession).where(KioskSession.event_id == event.id)).one()
    if kept_for is not None:
        _keep_values(session, row, kept_for, event, flags)
    _count(session, cx, row, event, flags)
    if row.crisis:
        row.alert_id = open_crisis(
            session,
            cx,
            event_id=event.id,
            kiosk=event.device,
            space_code=body.space,
            space_name=space.name if space else "",
            ts=ts,
            identified=row.consented,
            now=now,
        ).id
        session.flush()
    return True


def _count(
    session: Session, cx: Complex, row: KioskSession, event: HealthReading, flags: list[Flag]
) -> None:
    """Count the session in its space's local hour (distinct members by salted hash)."""
    space = event.body.space
    start_ms = hour_start_ms(ZoneInfo(cx.timezone), to_ms(row.ts))
    count_session(
        session,
        cx.id,
        space,
        start_ms,
        new_member=first_visit(session, cx.id, space, start_ms, event.body.member),
        consented=row.consented,
        crisis=row.crisis,
        readings=[
            (r.type, is_outside_reference(f))
            for r, f in zip(event.body.readings, flags, strict=True)
        ],
    )


def _keep_values(
    session: Session, row: KioskSession, member_id: int, event: HealthReading, flags: list[Flag]
) -> None:
    session.execute(
        insert(Reading),
        [
            {
                "session_id": row.id,
                "member_id": member_id,
                "complex_id": row.complex_id,
                "space_code": row.space_code,
                "device_code": row.device_code,
                "type": r.type,
                "value": r.value,
                "unit": r.unit,
                "loinc": r.loinc,
                "flag": flag,
                "ts": row.ts,
            }
            for r, flag in zip(event.body.readings, flags, strict=True)
        ],
    )
