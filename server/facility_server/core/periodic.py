"""A job run on a timer in a daemon thread: the shell around a runner's :meth:`run_once`.

Runners (:class:`facility_server.vitals.runner.VitalsRunner`,
:class:`facility_server.utilisation.runner.UtilisationRunner`,
:class:`facility_server.health.runner.HealthTicker`) subclass :class:`Periodic` and write
``run_once``. One failed run is logged and the next one tries again.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)


class Periodic:
    """Calls :meth:`run_once` every ``interval_s`` seconds (first after one interval)
    until :meth:`stop`.

    Args:
        interval_s: seconds between runs.
        name: the thread's name (also in the failure log line).
    """

    def __init__(self, interval_s: float, name: str) -> None:
        self.interval_s, self.name = interval_s, name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def run_once(self) -> None:
        """One run of the job (subclasses)."""
        raise NotImplementedError

    def start(self) -> None:
        """Start running the job."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait (at most 30 s) for the current run to finish."""
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # one failed run must not stop the next ones
                logger.exception("%s run failed; retrying in %.0f s", self.name, self.interval_s)
