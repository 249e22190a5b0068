"""Run the health tick on a timer in a background thread, with an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from facility_server.core.db import session_scope
from facility_server.core.periodic import Periodic
from facility_server.health.tick import health_tick


class HealthTicker(Periodic):
    """Calls :func:`health_tick` every ``interval_s`` seconds until stopped."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        interval_s: float,
        default_heartbeat_s: float = 60.0,
    ) -> None:
        super().__init__(interval_s, "health-tick")
        self.factory, self.clock = factory, clock
        self.default_heartbeat_s = default_heartbeat_s

    def run_once(self) -> None:
        """One evaluation, committed."""
        with session_scope(self.factory) as session:
            health_tick(session, self.clock(), self.default_heartbeat_s)
