"""The notification outbox: who hears about an alert, and the rows a worker sends.

:func:`dispatch` turns alert state changes into outbox rows: an alert's opening goes to
its complex's contacts (level 0), each escalation to the next level's (1 street,
2 district), its resolution to everyone told before. Task alerts go to contacts with
topic ``tasks`` (those bound to a staff member only for the rules that person is
responsible for); device-health alerts to topic ``devices``: a different person;
health-kiosk crisis alerts to topic ``health`` (the clinician on duty, issue 7). An alert
with no contact of its topic at a level (a missed disinfection on a street with nobody on
its list, say) is logged at WARNING and the level is listed in the alert's
``detail.not_delivered``, so the alert boards show who was never told.

Each row's ``key`` = ``alert:contact:channel:event`` is unique, and rows are inserted
with ``ON CONFLICT DO NOTHING``, so two processes dispatching the same change make one
row. A worker :func:`claim` s rows with a compare-and-set lease, so two processes never
send the same row; a sent row is marked ``sent`` and never sent again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from facility_server.core.db import dialect_insert
from facility_server.models import Alert, Complex, Contact, Notification
from facility_server.notify.message import (
    LEVEL_NAMES,
    OPENED,
    RESOLVED,
    Facts,
    compose,
    escalated,
)
from facility_server.notify.sender import channel_of

logger = logging.getLogger(__name__)


def topic_of(alert: Alert) -> str:
    """``tasks`` for task alerts, ``health`` for health-kiosk alerts (the health station's
    clinician on duty), ``devices`` for device-health alerts."""
    if alert.kind.startswith("vital_"):
        return "health"
    return "tasks" if alert.kind.startswith("task_") else "devices"


def recipients(session: Session, alert: Alert, cx: Complex, level: int) -> list[Contact]:
    """Active contacts of the alert's topic at ``level`` (0 complex, 1 street, 2 district)."""
    scope = [("complex", cx.id), ("street", cx.street_id), ("district", cx.district_id)][level]
    topic = topic_of(alert)
    rows = session.scalars(
        select(Contact)
        .where(Contact.scope_kind == scope[0], Contact.scope_id == scope[1], Contact.active)
        .order_by(Contact.id)
    )
    responsible = (alert.detail.get("responsible") or {}).get("code")
    return [
        c
        for c in rows
        if topic in c.topics
        and (topic != "tasks" or not c.staff_code or c.staff_code == responsible)
    ]


def facts(alert: Alert, cx: Complex, level: int) -> Facts:
    """What the messages about ``alert`` say."""
    tz = ZoneInfo(cx.timezone)
    since = alert.detail.get("deadline", "")
    if not alert.kind.startswith("task_"):
        try:
            seen = datetime.fromisoformat(alert.occurrence)
            since = seen.astimezone(tz).strftime("%Y-%m-%d %H:%M ") + str(tz)
        except ValueError:
            since = "never (not seen since it was registered)"
    after = alert.escalate_after_s
    return Facts(
        alert_id=alert.id,
        kind=alert.kind,
        title=alert.title,
        complex_name=cx.name,
        site_id=cx.site_id,
        since=since,
        detail=dict(alert.detail),
        state=alert.state,
        resolution=alert.resolution,
        note=alert.note,
        level=level,
        escalate_after_min=None if after is None else after / 60,
    )


def _facts(session: Session, alert: Alert, cx: Complex, level: int) -> Facts:
    """:func:`facts`, plus for a health-kiosk crisis whether the member is identified (read
    from the session, not kept in the alert: every role that reads alerts sees those)."""
    f = facts(alert, cx, level)
    if topic_of(alert) == "health":
        from facility_server.vitals.crisis import identified

        f = replace(f, detail={**f.detail, "identified": identified(session, alert.id)})
    return f


def _not_delivered(alert: Alert, cx: Complex, level: int) -> None:
    """An alert with nobody to tell at ``level``: WARNING, and the alert's detail lists the
    level under ``not_delivered`` (the alert boards and the API show it)."""
    name = LEVEL_NAMES[level]
    logger.warning(
        "alert %s (%s) of %s: no active contact with topic %s at the %s level; nothing was sent",
        alert.id,
        alert.kind,
        cx.site_id,
        topic_of(alert),
        name,
        extra={"alert_id": alert.id, "site": cx.site_id, "level": name},
    )
    missed = list(alert.detail.get("not_delivered", []))
    if name not in missed:
        alert.detail = {**alert.detail, "not_delivered": [*missed, name]}


def _enqueue(
    session: Session, alert: Alert, cx: Complex, level: int, event: str, now: datetime
) -> int:
    contacts = recipients(session, alert, cx, level)
    if not contacts:
        if event != RESOLVED:  # a resolution goes to those told before; none: no news
            _not_delivered(alert, cx, level)
        return 0
    title, body = compose(_facts(session, alert, cx, level), event)  # one text for everyone
    rows = []
    for contact in contacts:
        channel = channel_of(contact.url)
        rows.append(
            {
                "key": f"{alert.id}:{contact.id}:{channel}:{event}",
                "alert_id": alert.id,
                "contact_id": contact.id,
                "channel": channel,
                "recipient": contact.name,
                "event": event,
                "title": title,
                "body": body,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "last_error": "",
            }
        )
    stmt = dialect_insert(session)(Notification).on_conflict_do_nothing(index_elements=["key"])
    session.execute(stmt, rows)
    return len(rows)


def dispatch(session: Session, now: datetime) -> int:
    """Enqueue the notifications every alert state change calls for (see module doc).

    Returns:
        Rows offered to the outbox (duplicates of another process's are dropped).
    """
    alerts = session.scalars(
        select(Alert)
        .where(
            Alert.notified_resolved.is_(False),
            or_(Alert.state == "resolved", Alert.notified_level < Alert.escalation_level),
        )
        .order_by(Alert.id)
    ).all()
    offered = 0
    for alert in alerts:
        cx = session.get(Complex, alert.complex_id) if alert.complex_id else None
        if alert.state == "resolved":
            if cx is not None:
                for level in range(alert.notified_level + 1):
                    offered += _enqueue(session, alert, cx, level, RESOLVED, now)
            _set(session, alert, notified_resolved=True)
            continue
        old, new = alert.notified_level, alert.escalation_level
        if cx is not None:
            for level in range(old + 1, new + 1):
                offered += _enqueue(
                    session, alert, cx, level, OPENED if level == 0 else escalated(level), now
                )
        _set(session, alert, notified_level=new)
    return offered


def _set(session: Session, alert: Alert, **values: object) -> None:
    session.execute(
        update(Alert)
        .where(Alert.id == alert.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    for key, value in values.items():
        setattr(alert, key, value)


def claim(session: Session, worker: str, now: datetime, lease_s: float, limit: int) -> list[int]:
    """Claim up to ``limit`` due rows for ``worker`` until ``now + lease_s``; commit before
    sending. A row is claimed by one worker only: the claim is an ``UPDATE ... WHERE``
    that matches only an unclaimed (or expired) pending row. Candidates are read three
    times over, so a worker racing another still finds rows the other did not take."""
    free = or_(Notification.claimed_until.is_(None), Notification.claimed_until < now)
    ids = session.scalars(
        select(Notification.id)
        .where(Notification.state == "pending", Notification.next_attempt_at <= now, free)
        .order_by(Notification.id)
        .limit(3 * limit)
    ).all()
    mine: list[int] = []
    for row_id in ids:
        if len(mine) >= limit:
            break
        result = session.execute(
            update(Notification)
            .where(Notification.id == row_id, Notification.state == "pending", free)
            .values(claimed_by=worker, claimed_until=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            mine.append(row_id)
    return mine
