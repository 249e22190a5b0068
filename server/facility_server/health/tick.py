"""Apply the health evaluation to the database: device states and the one alert model.

:func:`health_tick` is called on a timer with an injected clock (``now``); it is safe to
run in several server processes at once (alerts are deduplicated by a unique key).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.alerts import open_alert, resolve
from facility_server.health.evaluate import (
    HEALTH_ALERT_KINDS,
    DeviceView,
    HealthReport,
    LastStatus,
    evaluate,
)
from facility_server.models import Alert, Complex, Device

logger = logging.getLogger(__name__)


def load_views(
    session: Session, complex_ids: list[int] | None = None
) -> tuple[list[Device], list[DeviceView], dict[int, LastStatus]]:
    """Devices (rows), their views and last statuses, optionally for some complexes only."""
    stmt = select(Device, Complex.site_id).join(Complex, Complex.id == Device.complex_id)
    if complex_ids is not None:
        stmt = stmt.where(Device.complex_id.in_(complex_ids))
    rows, views, statuses = [], [], {}
    for dev, site in session.execute(stmt.order_by(Device.id)).all():
        rows.append(dev)
        views.append(
            DeviceView(dev.id, dev.code, dev.complex_id, site, dev.kind, dev.via_id, dev.created_at)
        )
        if dev.state is not None:
            statuses[dev.id] = LastStatus(dev.state, dev.last_seen, dev.heartbeat_s)
    return rows, views, statuses


def health_tick(session: Session, now: datetime, default_heartbeat_s: float = 60.0) -> HealthReport:
    """Evaluate all devices at ``now``, store their health, open due alerts and resolve
    those whose condition ended (``recovered``) or that a wider alert replaced (``grouped``).
    The caller commits."""
    rows, views, statuses = load_views(session)
    report = evaluate(views, statuses, now, default_heartbeat_s)
    for dev in rows:
        state = report.states[dev.id]
        if dev.health != state or dev.health_since is None:
            dev.health, dev.health_since = state, now
    wanted = set()
    for wish in report.alerts:
        alert, created = open_alert(
            session,
            kind=wish.kind,
            subject=wish.subject,
            occurrence=wish.occurrence,
            title=wish.title,
            now=now,
            complex_id=wish.complex_id,
            detail={"devices": list(wish.devices)},
        )
        wanted.add(alert.dedupe_key)
        if created:
            logger.warning("alert opened: %s", alert.dedupe_key)
    _resolve_others(session, wanted, report, views, now)
    session.flush()
    return report


def _resolve_others(
    session: Session, wanted: set[str], report: HealthReport, views: list[DeviceView], now: datetime
) -> None:
    online_codes = {(v.site_id, v.code) for v in views if report.states[v.id] == "online"}
    open_health = session.scalars(
        select(Alert).where(Alert.kind.in_(HEALTH_ALERT_KINDS), Alert.state != "resolved")
    )
    for alert in open_health:
        if alert.dedupe_key in wanted:
            continue
        site = alert.subject.split("/", 1)[0]
        devices = alert.detail.get("devices", [])
        recovered = all((site, code) in online_codes for code in devices)
        resolve(alert, "recovered" if recovered else "grouped", now)
        logger.info("alert resolved (%s): %s", alert.resolution, alert.dedupe_key)


def device_health_summary(
    session: Session, now: datetime, default_heartbeat_s: float = 60.0
) -> dict[str, Any]:
    """Device health right now, evaluated live (not from the last tick), for summaries.

    Returns:
        ``{"devices": n, "online": n, "offline": n, "never_seen": n,
        "offline_devices": ["site/code", ...], "never_seen_devices": ["site/code", ...],
        "open_alerts": [{"kind", "subject", "title"}]}``; each list holds exactly the
        devices its count counts (a never-seen device is not listed as offline).
    """
    _, views, statuses = load_views(session)
    report = evaluate(views, statuses, now, default_heartbeat_s)
    alerts = session.scalars(select(Alert).where(Alert.state != "resolved").order_by(Alert.id))

    def listed(state: str) -> list[str]:
        return [f"{v.site_id}/{v.code}" for v in views if report.states[v.id] == state]

    return {
        "devices": len(views),
        **report.counts(),
        "offline_devices": listed("offline"),
        "never_seen_devices": listed("never_seen"),
        "open_alerts": [{"kind": a.kind, "subject": a.subject, "title": a.title} for a in alerts],
    }
