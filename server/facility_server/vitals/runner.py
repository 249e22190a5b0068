"""The health-kiosk jobs on a timer (a background thread of ``facility server run``).

Each run, with an injected clock: drop the visitor hashes of closed hours
(:func:`.counters.close_hours`), write the recent hourly aggregates when a point writer
is configured (:func:`.series.write_recent`), and once per UTC day purge readings older
than the retention (:func:`run_purge`, audited as ``vital_reading.purge``; then SQLite's
write-ahead log is checkpointed, :func:`facility_server.core.db.checkpoint`). A failed run
is logged; the next one tries again (:class:`facility_server.core.periodic.Periodic`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime

from facility_gateway.writer import PointWriter
from sqlalchemy.orm import Session, sessionmaker

from facility_server.auth.audit import record
from facility_server.core.db import checkpoint, session_scope
from facility_server.core.periodic import Periodic
from facility_server.vitals.counters import close_hours
from facility_server.vitals.retention import purge
from facility_server.vitals.series import write_recent

logger = logging.getLogger(__name__)


def run_purge(session: Session, now: datetime, retention_days: int) -> dict[str, int]:
    """Purge (see :func:`.retention.purge`) and audit it as the system; returns counts."""
    counts = purge(session, now, retention_days)
    record(
        session,
        None,
        "vital_reading.purge",
        f"retention:{retention_days}d",
        "ok",
        {**counts, "retention_days": retention_days},
        now=now,
    )
    logger.info("vitals purge: %s", counts)
    return counts


class VitalsRunner(Periodic):
    """Runs the health-kiosk jobs every ``interval_s`` seconds until stopped.

    Args:
        factory: database sessions.
        clock: the current instant (tz-aware, UTC).
        retention_days: readings older than this are purged (once per UTC day).
        visitor_keep_s: seconds after an hour's end its visitor hashes are dropped.
        interval_s: seconds between runs.
        writer: where the hourly aggregates go (None: not written).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        retention_days: int,
        visitor_keep_s: float,
        interval_s: float = 300.0,
        writer: PointWriter | None = None,
    ) -> None:
        super().__init__(interval_s, "vitals")
        self.factory, self.clock, self.writer = factory, clock, writer
        self.retention_days, self.visitor_keep_s = retention_days, visitor_keep_s
        self.last_purge: date | None = None

    def run_once(self) -> None:
        """One run of every job, committed."""
        now = self.clock()
        purged = self.last_purge != now.date()
        with session_scope(self.factory) as session:
            close_hours(session, now, self.visitor_keep_s)
            if purged:
                run_purge(session, now, self.retention_days)
            if self.writer is not None:
                write_recent(session, self.writer, now)
            bind = session.get_bind()
        if purged:
            checkpoint(bind)  # no copy of the purged rows stays in SQLite's log
        self.last_purge = now.date()
