"""The one alert lifecycle: open -> acknowledged -> resolved.

Alerts are deduplicated by ``kind:subject:occurrence`` (a unique column): opening an
alert that exists returns the existing one, even when another server process opened it
a moment ago. The compliance issue extends this module (escalation, notifications).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facility_server.models import Alert

STATES = ("open", "acknowledged", "resolved")


class AlertStateError(ValueError):
    """A transition the lifecycle does not allow (e.g. acknowledging a resolved alert)."""


def dedupe_key(kind: str, subject: str, occurrence: str) -> str:
    """The unique key of one alert occurrence."""
    return f"{kind}:{subject}:{occurrence}"


def open_alert(
    session: Session,
    *,
    kind: str,
    subject: str,
    occurrence: str,
    title: str,
    now: datetime,
    complex_id: int | None = None,
    severity: str = "warning",
    detail: dict[str, Any] | None = None,
) -> tuple[Alert, bool]:
    """Open an alert unless this occurrence already has one.

    Returns:
        (the alert, True when this call created it).
    """
    key = dedupe_key(kind, subject, occurrence)
    existing = session.scalar(select(Alert).where(Alert.dedupe_key == key))
    if existing is not None:
        return existing, False
    alert = Alert(
        kind=kind,
        subject=subject,
        occurrence=occurrence,
        dedupe_key=key,
        title=title,
        complex_id=complex_id,
        severity=severity,
        detail=detail or {},
        state="open",
        opened_at=now,
    )
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:  # another process opened it between our read and write
        return session.scalars(select(Alert).where(Alert.dedupe_key == key)).one(), False
    return alert, True


def acknowledge(alert: Alert, by: str, now: datetime) -> None:
    """Mark an open alert acknowledged by ``by`` at ``now`` (UTC).

    Raises:
        AlertStateError: unless the alert is open.
    """
    if alert.state != "open":
        raise AlertStateError(f"cannot acknowledge a {alert.state} alert")
    alert.state, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", now, by


def resolve(alert: Alert, resolution: str, now: datetime) -> None:
    """Resolve an open or acknowledged alert (``recovered``, ``fixed``, ...).

    Raises:
        AlertStateError: when it is already resolved.
    """
    if alert.state == "resolved":
        raise AlertStateError("alert already resolved")
    alert.state, alert.resolved_at, alert.resolution = "resolved", now, resolution
