"""Run the health tick on a timer in a background thread, with an injected clock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from facility_server.core.db import session_scope
from facility_server.health.tick import health_tick

logger = logging.getLogger(__name__)


class HealthTicker:
    """Calls :func:`health_tick` every ``interval_s`` seconds until stopped."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        interval_s: float,
        default_heartbeat_s: float = 60.0,
    ) -> None:
        self.factory, self.clock, self.interval_s = factory, clock, interval_s
        self.default_heartbeat_s = default_heartbeat_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-tick", daemon=True)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the current tick to finish."""
        self._stop.set()
        self._thread.join(10)

    def tick(self) -> None:
        """One evaluation, committed."""
        with session_scope(self.factory) as session:
            health_tick(session, self.clock(), self.default_heartbeat_s)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:
                logger.exception("health tick failed")
