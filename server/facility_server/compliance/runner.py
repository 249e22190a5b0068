"""Run compliance on a timer: evaluate, escalate, enqueue and send notifications, write
the daily series. Each phase is its own transaction; one failing phase is logged and
the others still run (a loop boundary). Any number of server processes may run this at
once (see docs/compliance.md, "Two processes").
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from facility_gateway.writer import PointWriter
from sqlalchemy.orm import Session, sessionmaker

from facility_server.alerts import escalate_due
from facility_server.compliance.series import write_series
from facility_server.compliance.store import Memo
from facility_server.compliance.tick import compliance_tick
from facility_server.core.db import session_scope
from facility_server.core.settings import Settings
from facility_server.notify.outbox import dispatch
from facility_server.notify.sender import AppriseSender, Sender
from facility_server.notify.worker import WorkerConfig, deliver

logger = logging.getLogger(__name__)


def make_series_writer(settings: Settings) -> PointWriter | None:
    """The point writer ``settings.series_writer`` asks for (None: no series)."""
    if settings.series_writer == "embedded":
        from facility_gateway.embedded import EmbeddedStore

        return EmbeddedStore(settings.embedded_path)
    if settings.series_writer == "influx":
        from facility_gateway.influx import InfluxWriter

        token = settings.influx_token.get_secret_value() if settings.influx_token else None
        return InfluxWriter(
            settings.influx_url,
            bucket=settings.influx_bucket,
            org=settings.influx_org,
            token=token,
        )
    return None


class ComplianceRunner:
    """One process's share of compliance work; :meth:`step` runs every phase once.

    Args:
        factory: session factory.
        clock: the current instant (UTC, tz-aware).
        settings: tick interval, settle time, escalation default, outbox settings.
        sender: how messages go out (Apprise by default); None with ``settings.notify``
            false.
        writer: where daily compliance points go (None: not written).
        worker_id: this process's name in outbox claims (host:pid by default).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        settings: Settings,
        *,
        sender: Sender | None = None,
        writer: PointWriter | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.factory, self.clock, self.settings = factory, clock, settings
        self.sender = (
            sender if sender is not None else (AppriseSender() if settings.notify else None)
        )
        self.writer = writer
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.config = WorkerConfig(
            lease_s=settings.notify_lease_s,
            retry_s=settings.notify_retry_s,
            max_attempts=settings.notify_max_attempts,
        )
        self.memo = Memo()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="compliance", daemon=True)

    def step(self) -> dict[str, Any]:
        """Evaluate, escalate, dispatch, deliver, write the series; return what each did."""
        out: dict[str, Any] = {}
        after = self.settings.escalate_after_s or None
        phases: list[tuple[str, Callable[[], Any]]] = [
            ("tick", self._tick),
            ("escalated", lambda: len(self._tx(lambda s: escalate_due(s, self.clock(), after)))),
            ("enqueued", lambda: self._tx(lambda s: dispatch(s, self.clock()))),
        ]
        if self.sender is not None:
            sender = self.sender
            phases.append(
                (
                    "sent",
                    lambda: deliver(self.factory, sender, self.clock, self.worker_id, self.config),
                )
            )
        if self.writer is not None:
            writer = self.writer
            phases.append(
                ("points", lambda: self._tx(lambda s: write_series(s, writer, self.clock())))
            )
        for name, phase in phases:
            try:
                out[name] = phase()
            except Exception:
                logger.exception("compliance phase %s failed", name)
                out[name] = None
        return out

    def _tick(self) -> Any:
        settle_ms = int(self.settings.compliance_settle_s * 1000)
        try:
            with session_scope(self.factory) as session:
                report = compliance_tick(session, self.clock(), settle_ms=settle_ms, memo=self.memo)
        except Exception:
            self.memo.forget()
            raise
        self.memo.accept()
        return report

    def _tx(self, work: Callable[[Session], Any]) -> Any:
        with session_scope(self.factory) as session:
            return work(session)

    def start(self) -> None:
        """Start stepping every ``settings.compliance_tick_s`` seconds."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the current step."""
        self._stop.set()
        self._thread.join(30)
        if self.writer is not None:
            self.writer.close()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.compliance_tick_s):
            self.step()
