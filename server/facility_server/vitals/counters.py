"""Hourly usage counters of the health kiosks, kept as each session is stored.

Counters are incremented in the session's own transaction with
``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` (SQLite and PostgreSQL), so
two ingest processes never lose an increment, and a redelivered event (refused by the
unique event id before it gets here) is never counted twice.

Distinct members per space and hour, without keeping who they are: each hour has a
random salt (``vital_hour_salts``); a session adds ``HMAC-SHA256(salt, pseudonym)`` to
``vital_hour_visitors`` and counts a member only when that hash is new. Salts and hashes
are dropped ``vitals_visitor_keep_s`` after the hour ends (:func:`close_hours`); after
that the count stays and nothing in it leads back to a member, consenting or not. A
session arriving after its hour was closed gets a fresh salt, so its member may be
counted a second time in that hour (``members`` is then an upper bound).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import to_datetime, to_ms
from facility_server.core.db import dialect_insert, insert_ignore
from facility_server.models import HourSalt, HourVisitor, ReadingHour, UsageHour

HOUR_MS = 3_600_000


def hour_start_ms(tz: ZoneInfo, ts_ms: int) -> int:
    """UTC epoch ms of the start of the local clock hour (in ``tz``) holding ``ts_ms``."""
    local = to_datetime(ts_ms).astimezone(tz)
    return to_ms(local.replace(minute=0, second=0, microsecond=0))


def add_counts(session: Session, model: Any, key: dict[str, Any], counts: dict[str, int]) -> None:
    """Add ``counts`` to the row of ``model`` with primary key ``key`` (created at 0)."""
    stmt = dialect_insert(session)(model).values(**key, **counts)
    table = model.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key),
        set_={name: table.c[name] + stmt.excluded[name] for name in counts},
    )
    session.execute(stmt)


def _salt(session: Session, start_ms: int) -> bytes:
    insert_ignore(
        session, HourSalt, {"start_ms": start_ms, "salt": secrets.token_hex(32)}, ["start_ms"]
    )
    return bytes.fromhex(
        session.scalars(select(HourSalt.salt).where(HourSalt.start_ms == start_ms)).one()
    )


def visitor_token(salt: bytes, pseudonym: str) -> str:
    """The salted hash of a pseudonym for one hour (64 hex)."""
    return hmac.new(salt, pseudonym.encode(), hashlib.sha256).hexdigest()


def first_visit(
    session: Session, complex_id: int, space_code: str, start_ms: int, pseudonym: str
) -> bool:
    """Record the member's visit to the space in the hour; True when it is their first."""
    token = visitor_token(_salt(session, start_ms), pseudonym)
    row = {"complex_id": complex_id, "space_code": space_code, "start_ms": start_ms}
    return insert_ignore(session, HourVisitor, {**row, "token": token}, [*row, "token"])


def count_session(
    session: Session,
    complex_id: int,
    space_code: str,
    start_ms: int,
    *,
    new_member: bool,
    consented: bool,
    crisis: bool,
    readings: list[tuple[str, bool]],
) -> None:
    """Count one session in its hour: ``readings`` are (reading type, outside reference
    range); a reading is ``evaluated`` only with consent (its value was kept)."""
    key = {"complex_id": complex_id, "space_code": space_code, "start_ms": start_ms}
    add_counts(
        session,
        UsageHour,
        key,
        {
            "sessions": 1,
            "members": int(new_member),
            "consented": int(consented),
            "crisis": int(crisis),
        },
    )
    for reading_type, outside in readings:
        add_counts(
            session,
            ReadingHour,
            {**key, "reading_type": reading_type},
            {
                "readings": 1,
                "evaluated": int(consented),
                "outside_reference": int(consented and outside),
            },
        )


def close_hours(session: Session, now: datetime, keep_s: float) -> int:
    """Drop the salts and visitor hashes of hours that ended more than ``keep_s`` s before
    ``now``; returns how many hashes went."""
    cutoff = to_ms(now) - int(keep_s * 1000) - HOUR_MS
    gone = session.execute(delete(HourVisitor).where(HourVisitor.start_ms < cutoff))
    session.execute(delete(HourSalt).where(HourSalt.start_ms < cutoff))
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]


def forget_visitor(session: Session, pseudonym: str) -> int:
    """Remove a member's hashes from the hours still open (erasure); returns how many."""
    gone = 0
    for start_ms, salt in session.execute(select(HourSalt.start_ms, HourSalt.salt)).all():
        token = visitor_token(bytes.fromhex(salt), pseudonym)
        result = session.execute(
            delete(HourVisitor).where(HourVisitor.start_ms == start_ms, HourVisitor.token == token)
        )
        gone += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return gone
