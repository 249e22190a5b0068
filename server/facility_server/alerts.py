"""The one alert lifecycle: open -> acknowledged -> resolved, with escalation.

Alerts are deduplicated by ``kind:subject:occurrence`` (a unique column): opening an
alert that exists returns the existing one, even when another server process opened it
a moment ago. An open alert nobody acknowledges within its ``escalate_after_s`` goes up
one level of the hierarchy (0 complex, 1 street, 2 district); the step is a
compare-and-set on the level, so two processes escalate it once. Notifications about
each state change are enqueued by :mod:`facility_server.notify.outbox`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facility_server.core.db import dialect_insert
from facility_server.models import Alert

STATES = ("open", "acknowledged", "resolved")
#: Levels of escalation: the complex's contacts, then the street's, then the district's.
LEVELS = ("complex", "street", "district")
MAX_LEVEL = len(LEVELS) - 1


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
        article = "an" if alert.state[:1] in "aeiou" else "a"
        raise AlertStateError(f"cannot acknowledge {article} {alert.state} alert")
    alert.state, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", now, by


def open_alerts(session: Session, wishes: Sequence[dict[str, Any]], now: datetime) -> list[str]:
    """Open many alerts at once; those that exist (any state) are left as they are.

    Each wish has ``kind``, ``subject``, ``occurrence``, ``title`` and optionally
    ``complex_id``, ``severity``, ``detail``, ``escalate_after_s``. One
    ``INSERT ... ON CONFLICT DO NOTHING`` on the unique dedupe key, so concurrent
    processes open each alert once.

    Returns:
        The dedupe keys of the wishes (each alert now exists, new or not).
    """
    if not wishes:
        return []
    rows = [
        {
            "kind": w["kind"],
            "subject": w["subject"],
            "occurrence": w["occurrence"],
            "dedupe_key": dedupe_key(w["kind"], w["subject"], w["occurrence"]),
            "title": w["title"],
            "complex_id": w.get("complex_id"),
            "severity": w.get("severity", "warning"),
            "detail": w.get("detail", {}),
            "state": "open",
            "opened_at": now,
            "escalation_level": 0,
            "escalate_after_s": w.get("escalate_after_s"),
            "notified_level": -1,
            "notified_resolved": False,
        }
        for w in wishes
    ]
    builder = dialect_insert(session)
    stmt = builder(Alert).on_conflict_do_nothing(index_elements=["dedupe_key"])
    session.connection().execute(stmt, rows)
    return [r["dedupe_key"] for r in rows]


def resolve(alert: Alert, resolution: str, now: datetime, note: str | None = None) -> None:
    """Resolve an open or acknowledged alert (``recovered``, ``fixed``, ...), with an
    optional ``note`` saying why (at most 300 characters are kept).

    Raises:
        AlertStateError: when it is already resolved.
    """
    if alert.state == "resolved":
        raise AlertStateError("alert already resolved")
    alert.state, alert.resolved_at, alert.resolution = "resolved", now, resolution
    if note:
        alert.note = note[:300]


def escalate_due(session: Session, now: datetime, default_after_s: float | None) -> list[Alert]:
    """Move every open (unacknowledged) alert whose time at its level ran out one level up.

    The time at a level counts from ``escalated_at`` (or ``opened_at``); an alert's own
    ``escalate_after_s`` wins over ``default_after_s`` (None: never). Each step is an
    ``UPDATE ... WHERE escalation_level = <seen>``, so of two processes only one moves it.

    Returns:
        The alerts this call escalated.
    """
    candidates = session.scalars(
        select(Alert).where(Alert.state == "open", Alert.escalation_level < MAX_LEVEL)
    ).all()
    moved = []
    for alert in candidates:
        after = alert.escalate_after_s if alert.escalate_after_s is not None else default_after_s
        since = alert.escalated_at or alert.opened_at
        if after is None or now < since + timedelta(seconds=after):
            continue
        level = alert.escalation_level
        result = session.execute(
            update(Alert)
            .where(Alert.id == alert.id, Alert.escalation_level == level, Alert.state == "open")
            .values(escalation_level=level + 1, escalated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(alert)
            moved.append(alert)
    return moved
