"""Store one ``health.reading`` event (called by :func:`facility_server.ingest.store.store_event`).

Steps, in the ingest's transaction:

1. Check the readings again (the codec's vital-sign check,
   :func:`facility_contracts.vitals.check_readings`; decoding did it already), then the
   sender: the topic's device must be a registered ``health_kiosk`` of the complex
   (``kiosk_mismatch``, field ``device``) and ``body.space`` that kiosk's registered space
   (``space_mismatch``, field ``body.space``). A refused reading is kept as a
   ``reading_rejected`` device notice ``reason=R field=F`` (the edge's format), never its
   value, so rejections are counted in one place (:mod:`.usage`). A reading older than the
   retention plus :data:`.retention.DEDUPE_KEEP_DAYS` is refused as ``too_old``: the server
   no longer knows whether it counted it.
2. Insert the session once by event id (``ON CONFLICT DO NOTHING``): a redelivered event
   stops here and changes nothing, and so does the resend of a purged session (its id is
   in ``vital_purged_events``).
3. With a ``health_monitoring`` consent in force at the reading's time
   (:func:`facility_server.vitals.consent.consent_in_force`): keep each reading (value,
   unit, LOINC, flag of :func:`facility_contracts.vitals.classify`). Without consent, or
   for a pseudonym nobody enrolled: keep neither values nor any member reference. A
   reading already older than the retention when it arrives is counted, its values are
   not kept, and only its event id is remembered (no session row, no alert).
4. Count the session in its space's local hour (:mod:`.counters`), every session alike.
5. A reading in a crisis range opens the crisis alert (:mod:`.crisis`); the session keeps
   which types were in a crisis range and in which direction (``crisis_flags``).

The reading's time follows the gateway's rules (:func:`facility_gateway.mapping.event_time`):
device time when synchronised and plausible, else ``received - (sent - mono)``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from facility_contracts.codec import check_health_reading  # one check for every receiver
from facility_contracts.envelope import HealthReading
from facility_contracts.errors import ContractError
from facility_contracts.vitals import Flag, classify, is_crisis, is_outside_reference
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import to_datetime, to_ms
from facility_server.core.db import insert_ignore
from facility_server.ingest.timing import point_time
from facility_server.models import (
    Complex,
    Device,
    DeviceNotice,
    KioskSession,
    PurgedEvent,
    Reading,
    Space,
)
from facility_server.vitals.consent import consent_in_force, member_by_pseudonym
from facility_server.vitals.counters import count_session, first_visit, hour_start_ms
from facility_server.vitals.crisis import open_crisis
from facility_server.vitals.retention import dedupe_horizon

logger = logging.getLogger(__name__)
REJECTED = "reading_rejected"
#: The registry kind of a health kiosk (facility_server.domain.DeviceKind).
KIOSK_KIND = "health_kiosk"


def rejection_notice(
    session: Session,
    cx: Complex,
    *,
    event_id: str,
    device: str,
    reason: str,
    field: str,
    ts: datetime,
) -> bool:
    """Keep a refused reading as a ``reading_rejected`` notice of ``device``: detail
    ``reason=R field=F``, never a value or a pseudonym (logged the same way). True when new."""
    logger.warning(
        "health reading %s rejected: %s (%s)",
        event_id,
        reason,
        field,
        extra={"site": cx.site_id, "device": device, "event_id": event_id},
    )
    return insert_ignore(
        session,
        DeviceNotice,
        {
            "event_id": event_id,
            "complex_id": cx.id,
            "device_code": device,
            "code": REJECTED,
            "detail": f"reason={reason} field={field or '-'}"[:200],
            "ts": ts,
        },
        ["event_id"],
    )


#: Payloads up to this size are parsed to tell a health reading (larger: marker search).
_PEEK_BYTES = 65536
_EVENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def is_health_payload(payload: bytes) -> bool:
    """True when an undecodable event payload says it is a ``health.reading``."""
    if len(payload) > _PEEK_BYTES:
        return b'"health.reading"' in payload
    try:
        doc = json.loads(payload)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("kind") == "health.reading"


def _payload_id(payload: bytes, exc: ContractError) -> str:
    """The payload's event id when usable (a redelivery is then counted once), else a
    hash of the payload."""
    try:
        doc = json.loads(payload) if len(payload) <= _PEEK_BYTES else {}
    except ValueError:
        doc = {}
    given = doc.get("id") if isinstance(doc, dict) else None
    if exc.field != "id" and isinstance(given, str) and _EVENT_ID.match(given):
        return given
    return "rejected-" + hashlib.sha256(payload).hexdigest()[:48]


def reject_undecodable(
    session: Session, site: str, device: str, payload: bytes, exc: ContractError, now: datetime
) -> bool:
    """Count a ``health.reading`` payload the codec refused (e.g. SpO2 101 %) as a
    rejection of ``device`` (the topic's), dated ``now`` (the receive time: nothing of an
    undecodable payload is trusted); reason and field only. False for an unknown site or
    a repeat."""
    cx = session.scalar(select(Complex).where(Complex.site_id == site))
    if cx is None:
        return False
    return rejection_notice(
        session, cx, event_id=_payload_id(payload, exc), device=device, reason=exc.reason,
        field=exc.field, ts=now,
    )  # fmt: skip


def check_sender(session: Session, cx: Complex, event: HealthReading) -> Space:
    """The registered space of the kiosk that sent ``event``.

    Raises:
        ContractError: ``kiosk_mismatch`` (field ``device``) when the topic's device is not
            a ``health_kiosk`` of the complex; ``space_mismatch`` (field ``body.space``)
            when ``body.space`` is not the kiosk's registered space (or it has none).
    """
    kiosk = session.scalar(
        select(Device).where(Device.complex_id == cx.id, Device.code == event.device)
    )
    if kiosk is None or kiosk.kind != KIOSK_KIND:
        raise ContractError(
            "kiosk_mismatch", "not a registered health kiosk of the complex", field="device"
        )
    space = session.get(Space, kiosk.space_id) if kiosk.space_id is not None else None
    if space is None or space.code != event.body.space:
        raise ContractError(
            "space_mismatch", "not the kiosk's registered space", field="body.space"
        )
    return space


def _known(session: Session, event_id: str) -> bool:
    """True when the event was stored before (held, purged or remembered as too old)."""
    held = select(KioskSession.id).where(KioskSession.event_id == event_id)
    gone = select(PurgedEvent.event_id).where(PurgedEvent.event_id == event_id)
    return session.scalar(held) is not None or session.scalar(gone) is not None


def store_reading(
    session: Session,
    cx: Complex,
    event: HealthReading,
    now: datetime,
    *,
    retention_days: int | None = None,
) -> bool:
    """Store one measuring session (see the module doc).

    Args:
        retention_days: the readings' retention (default: the settings'
            ``vitals_retention_days``).

    Returns:
        True when the session (or its rejection notice) was new; False for a redelivery
        or a resend of a purged session.
    """
    if retention_days is None:
        from facility_server.core.settings import get_settings

        retention_days = get_settings().vitals_retention_days
    ts_ms, clock, _why = point_time(event, to_ms(now))
    ts = to_datetime(ts_ms)
    try:
        check_health_reading(event)  # the codec's own check, run again in case it was bypassed
        space = check_sender(session, cx, event)
        if ts < dedupe_horizon(now, retention_days):
            raise ContractError("too_old", "older than the server remembers", field="ts")
    except ContractError as exc:
        return rejection_notice(
            session, cx, event_id=event.id, device=event.device, reason=exc.reason,
            field=exc.field, ts=ts,
        )  # fmt: skip
    if _known(session, event.id):
        return False
    flags = [classify(r.type, r.value) for r in event.body.readings]
    if ts < now - timedelta(days=retention_days):
        return _store_stale(session, cx, event, ts, flags)
    return _store_session(session, cx, space, event, (ts, clock, now), flags)


def _store_session(
    session: Session,
    cx: Complex,
    space: Space,
    event: HealthReading,
    times: tuple[datetime, str, datetime],
    flags: list[Flag],
) -> bool:
    """Insert the session (once), keep values with consent, count it, open a crisis."""
    ts, clock, now = times
    member = member_by_pseudonym(session, cx.id, event.body.member)
    kept_for = member.id if member and consent_in_force(session, member.id, ts) else None
    values = {
        "event_id": event.id,
        "complex_id": cx.id,
        "space_id": space.id,
        "space_code": space.code,
        "device_code": event.device,
        "ts": ts,
        "clock": clock,
        "consented": kept_for is not None,
        "crisis": any(is_crisis(f) for f in flags),
        "crisis_flags": crisis_flags(event, flags),
        "member_id": kept_for,
        "received_at": now,
    }
    if not insert_ignore(session, KioskSession, values, ["event_id"]):
        return False
    row = session.scalars(select(KioskSession).where(KioskSession.event_id == event.id)).one()
    if kept_for is not None:
        _keep_values(session, row, kept_for, event, flags)
    _count(session, cx, ts, event, flags, consented=row.consented, crisis=row.crisis)
    if row.crisis:
        row.alert_id = open_crisis(
            session, cx, event_id=event.id, kiosk=event.device, space_code=space.code,
            space_name=space.name, ts=ts, now=now,
        ).id  # fmt: skip
        session.flush()
    return True


def crisis_flags(event: HealthReading, flags: list[Flag]) -> list[str]:
    """``type:low`` / ``type:high`` of each reading in a crisis range (no value)."""
    return [
        f"{r.type}:{'low' if f == 'crisis_low' else 'high'}"
        for r, f in zip(event.body.readings, flags, strict=True)
        if is_crisis(f)
    ]


def _store_stale(
    session: Session, cx: Complex, event: HealthReading, ts: datetime, flags: list[Flag]
) -> bool:
    """A session already older than the retention: remember its id, count it, keep
    nothing (no values, no session row, no alert: too late to follow up)."""
    if not insert_ignore(session, PurgedEvent, {"event_id": event.id, "ts": ts}, ["event_id"]):
        return False
    crisis = any(is_crisis(f) for f in flags)
    _count(session, cx, ts, event, flags, consented=False, crisis=crisis)
    return True


def _count(
    session: Session,
    cx: Complex,
    ts: datetime,
    event: HealthReading,
    flags: list[Flag],
    *,
    consented: bool,
    crisis: bool,
) -> None:
    """Count the session in its space's local hour (distinct members by salted hash)."""
    space = event.body.space
    start_ms = hour_start_ms(ZoneInfo(cx.timezone), to_ms(ts))
    count_session(
        session,
        cx.id,
        space,
        start_ms,
        new_member=first_visit(session, cx.id, space, start_ms, event.body.member),
        consented=consented,
        crisis=crisis,
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
