"""Storage limits: retention purge, consent withdrawal and erasure of a member.

- :func:`purge` (daily, :mod:`.runner`; ``facility server vitals purge``): readings and
  sessions older than ``vitals_retention_days`` (default 180, the shortest time the
  health station needs to see a trend; PIPL art. 19) are deleted. The hourly counts,
  which hold no person, stay. The purged sessions' event ids stay in
  ``vital_purged_events`` (id and reading time only) for :data:`DEDUPE_KEEP_DAYS` more
  days, so an edge resending them (its outbox keeps what it has not seen confirmed) is
  recognised: nothing is stored or counted twice. A session older than the retention plus
  :data:`DEDUPE_KEEP_DAYS` can no longer be told apart from a resend and is refused at
  ingest (``too_old``, counted as a rejection; :mod:`.ingest`).
- :func:`withdraw_consent`: the consent ends, and the member's readings are deleted and
  their sessions unlinked (PIPL art. 15 and 47 (3): delete on withdrawal). The member
  and the consent history (evidence of lawful processing, no health data) stay.
- :func:`erase_member` (PIPL art. 47, on request): the member, their consents, readings,
  session links, their hashes in the open hours, and any member key in alert details are
  removed. Alerts and notifications never held a value, name or pseudonym (nor, since
  migration 0007, whether the member had consented); the audit log
  holds only internal ids and purposes, so it can stay append-only.

Every function flushes and leaves the commit to the caller; each returns counts for its
audit entry. Deleted rows do not linger in an SQLite file: connections run with
``PRAGMA secure_delete=ON`` (:mod:`facility_server.core.db`), and the callers checkpoint
the write-ahead log after the commit (:func:`facility_server.core.db.checkpoint`);
PostgreSQL keeps dead row versions until ``VACUUM`` (autovacuum; see docs/vitals.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from facility_server.core.db import dialect_insert
from facility_server.models import Alert, Consent, KioskSession, Member, PurgedEvent, Reading
from facility_server.vitals.consent import VitalsConflict, VitalsError, require_text
from facility_server.vitals.counters import forget_visitor

#: Alert-detail keys that could name a member or tell whether they consented (never
#: written now; scrubbed defensively, ``identified`` from alerts of before migration 0007).
MEMBER_KEYS = ("member", "member_id", "pseudonym", "display_name", "identified")
#: Days after the retention that purged sessions' event ids are kept to recognise a resend.
DEDUPE_KEEP_DAYS = 365


def dedupe_horizon(now: datetime, retention_days: int) -> datetime:
    """The oldest reading time whose event id the server still knows (UTC)."""
    return now - timedelta(days=retention_days + DEDUPE_KEEP_DAYS)


def _tombstone(session: Session, cutoff: datetime) -> None:
    """Copy the event ids of the sessions older than ``cutoff`` to ``vital_purged_events``."""
    stmt = dialect_insert(session)(PurgedEvent).from_select(
        ["event_id", "ts"],
        select(KioskSession.event_id, KioskSession.ts).where(KioskSession.ts < cutoff),
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["event_id"]))


def purge(session: Session, now: datetime, retention_days: int) -> dict[str, int]:
    """Delete readings and sessions whose reading time is older than ``retention_days``.

    The deleted sessions' event ids are kept (see the module doc), and those older than
    :func:`dedupe_horizon` are dropped.

    Returns:
        ``{"readings": n, "sessions": n, "event_ids_dropped": n}`` deleted.

    Raises:
        VitalsError: ``retention_days`` < 1 (field ``retention_days``).
    """
    if retention_days < 1:
        raise VitalsError(
            "retention must be at least one day", field="retention_days", value=retention_days
        )
    cutoff = now - timedelta(days=retention_days)
    _tombstone(session, cutoff)
    readings = session.execute(delete(Reading).where(Reading.ts < cutoff))
    sessions = session.execute(delete(KioskSession).where(KioskSession.ts < cutoff))
    dropped = session.execute(
        delete(PurgedEvent).where(PurgedEvent.ts < dedupe_horizon(now, retention_days))
    )
    return {
        "readings": int(readings.rowcount or 0),  # type: ignore[attr-defined]
        "sessions": int(sessions.rowcount or 0),  # type: ignore[attr-defined]
        "event_ids_dropped": int(dropped.rowcount or 0),  # type: ignore[attr-defined]
    }


def _forget_readings(session: Session, member_id: int) -> dict[str, int]:
    readings = session.execute(delete(Reading).where(Reading.member_id == member_id))
    sessions = session.execute(
        update(KioskSession)
        .where(KioskSession.member_id == member_id)
        .values(member_id=None)
        .execution_options(synchronize_session=False)
    )
    return {
        "readings": int(readings.rowcount or 0),  # type: ignore[attr-defined]
        "sessions_unlinked": int(sessions.rowcount or 0),  # type: ignore[attr-defined]
    }


def withdraw_consent(
    session: Session, consent: Consent, *, by: str, now: datetime
) -> dict[str, int]:
    """Withdraw ``consent`` at ``now`` and delete what it allowed to keep.

    Raises:
        VitalsError: ``by`` is empty (field ``by``).
        VitalsConflict: already withdrawn (field ``withdrawn_at``).
    """
    by = require_text(by, "by")
    if consent.withdrawn_at is not None:
        raise VitalsConflict(
            "consent already withdrawn",
            field="withdrawn_at",
            value=consent.withdrawn_at.isoformat(),
        )
    consent.withdrawn_at, consent.withdrawn_by = now, by
    session.flush()
    return _forget_readings(session, consent.member_id)


def erase_member(session: Session, member: Member) -> dict[str, int]:
    """Remove ``member`` from every table (see the module doc).

    Returns:
        Counts of what went: readings, sessions_unlinked, consents, visitor_hashes,
        alerts_scrubbed.
    """
    alert_ids = list(
        session.scalars(
            select(KioskSession.alert_id).where(
                KioskSession.member_id == member.id, KioskSession.alert_id.is_not(None)
            )
        )
    )
    counts = _forget_readings(session, member.id)
    counts["alerts_scrubbed"] = _scrub_alerts(session, alert_ids)
    counts["visitor_hashes"] = forget_visitor(session, member.pseudonym)
    consents = session.execute(delete(Consent).where(Consent.member_id == member.id))
    counts["consents"] = int(consents.rowcount or 0)  # type: ignore[attr-defined]
    session.delete(member)
    session.flush()
    return counts


def _scrub_alerts(session: Session, alert_ids: list[int | None]) -> int:
    scrubbed = 0
    for alert in session.scalars(select(Alert).where(Alert.id.in_(alert_ids))):
        detail = {k: v for k, v in alert.detail.items() if k not in MEMBER_KEYS}
        if detail != alert.detail:
            alert.detail = detail
            scrubbed += 1
    return scrubbed
