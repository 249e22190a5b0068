"""Run the utilisation jobs on a timer in a background thread, with an injected clock.

Each run: refresh the hourly and daily figures (yesterday, today, and the days of door
events received since the previous run), open or resolve ``opening_quota`` alerts for
this week, and, when a point writer is configured, write the recent aggregates to the
time-series store. One failed run is logged and the next one tries again
(:class:`facility_server.core.periodic.Periodic`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from facility_gateway.writer import PointWriter
from sqlalchemy.orm import Session, sessionmaker

from facility_server.core.db import session_scope
from facility_server.core.periodic import Periodic
from facility_server.utilisation.quota_watch import check_opening_quotas
from facility_server.utilisation.refresh import refresh
from facility_server.utilisation.series import write_recent


class UtilisationRunner(Periodic):
    """Calls the utilisation jobs every ``interval_s`` seconds until stopped.

    Args:
        factory: database sessions.
        clock: the current instant (tz-aware, UTC).
        interval_s: seconds between runs.
        writer: where hourly/daily aggregates go (None: not written).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        interval_s: float = 300.0,
        writer: PointWriter | None = None,
    ) -> None:
        super().__init__(interval_s, "utilisation")
        self.factory, self.clock, self.writer = factory, clock, writer
        self.last_run: datetime | None = None

    def run_once(self) -> None:
        """One run of every job, committed."""
        now = self.clock()
        with session_scope(self.factory) as session:
            refresh(session, now, since=self.last_run)
            check_opening_quotas(session, now)
            if self.writer is not None:
                write_recent(session, self.writer, now)
        self.last_run = now
