"""Send the outbox: claim due rows, send each through a :class:`Sender`, record the result.

Each message goes with the Apprise type of its alert's severity (critical: ``failure``,
warning: ``warning``; a resolution: ``success``; :func:`.sender.notify_type`). A failed
send is retried with exponential backoff (``retry_s * 2**(attempts-1)``, at most
one hour) until ``max_attempts``, then the row is ``failed``; a row whose contact is gone
or inactive is ``cancelled``. Marking a row sent requires the worker's own claim, so a
worker whose lease expired cannot mark another's row. (A process killed between a
successful send and its mark sends that message once more after the lease: the key goes
with webhooks as ``X-Facility-Key`` for receivers to drop the repeat.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from facility_server.core.db import session_scope
from facility_server.models import Alert, Contact, Notification
from facility_server.notify.outbox import claim
from facility_server.notify.sender import Sender, SendError, notify_type

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """Outbox worker settings: lease and retry delays in s, attempts, batch size."""

    lease_s: float = 120.0
    retry_s: float = 30.0
    max_attempts: int = 8
    batch: int = 50


def deliver(
    factory: sessionmaker[Session],
    sender: Sender,
    clock: Callable[[], datetime],
    worker: str,
    config: WorkerConfig | None = None,
) -> int:
    """Send every due row this worker can claim now; return how many were sent."""
    config = config or WorkerConfig()
    with session_scope(factory) as session:
        ids = claim(session, worker, clock(), config.lease_s, config.batch)
    sent = 0
    for row_id in ids:
        with session_scope(factory) as session:
            row = session.get_one(Notification, row_id)
            contact = session.get(Contact, row.contact_id) if row.contact_id else None
            target = (contact.url if contact and contact.active else None, row.title, row.body)
            key, attempts = row.key, row.attempts
            who = (
                f"contact {contact.code!r} ({contact.scope_kind} {contact.scope_id}, "
                f"{row.channel}), notification {key}"
                if contact
                else f"notification {key}"
            )  # never the URL: it holds tokens
            alert = session.get(Alert, row.alert_id)
            kind = notify_type(alert.severity if alert else "info", row.event)
        if target[0] is None:
            _finish(factory, row_id, worker, state="cancelled", last_error="contact gone")
            continue
        try:
            sender.send(target[0], target[1], target[2], key, notify_type=kind)
        except (SendError, OSError) as exc:
            _retry(factory, row_id, worker, attempts + 1, str(exc), clock(), config, who)
            continue
        _finish(factory, row_id, worker, state="sent", sent_at=clock(), attempts=attempts + 1)
        sent += 1
        logger.info("notification sent", extra={"key": key})
    return sent


def _finish(factory: sessionmaker[Session], row_id: int, worker: str, **values: object) -> None:
    with session_scope(factory) as session:
        session.execute(
            update(Notification)
            .where(Notification.id == row_id, Notification.claimed_by == worker)
            .values(claimed_until=None, **values)
        )


def _retry(
    factory: sessionmaker[Session],
    row_id: int,
    worker: str,
    attempts: int,
    error: str,
    now: datetime,
    config: WorkerConfig,
    who: str = "",
) -> None:
    delay = min(config.retry_s * 2 ** (attempts - 1), 3600.0)
    state = "failed" if attempts >= config.max_attempts else "pending"
    logger.warning("notification to %s failed (attempt %d): %s", who, attempts, error)
    _finish(
        factory,
        row_id,
        worker,
        state=state,
        attempts=attempts,
        claimed_by=None,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=error[:300],
    )
