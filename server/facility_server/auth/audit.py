"""The append-only audit log: every write and every read of sensitive data.

The database refuses UPDATE and DELETE on ``audit_log`` (triggers in migration 0001).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from facility_server.auth.roles import Principal
from facility_server.models import AuditEntry


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    target: str,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Add one audit entry to ``session`` (committed with the action it describes).

    Args:
        actor: who; None for the system itself (import from the command line, ingest).
        action: what, ``resource.verb`` (``space.update``, ``staff.read``).
        target: ``resource:id`` or a description.
        outcome: ``ok``, ``denied`` or ``error``.
        now: when (UTC); the current time by default.
    """
    session.add(
        AuditEntry(
            at=now or datetime.now(UTC),
            actor_id=actor.account_id if actor else None,
            actor=actor.username if actor else "system",
            action=action,
            target=target[:200],
            outcome=outcome,
            detail=detail or {},
        )
    )


def record_now(
    factory: sessionmaker[Session],
    actor: Principal | None,
    action: str,
    target: str,
    outcome: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record in its own transaction, for outcomes whose request is rolled back (denied)."""
    with factory() as session:
        record(session, actor, action, target, outcome, detail)
        session.commit()
