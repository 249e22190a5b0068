"""The agent: readers -> recorder -> outbox -> forwarder -> broker, plus status.

Threads: one per serial device (:class:`~.serial_reader.SerialReader`), paho's network
thread (acks, connects), and the caller's thread running :meth:`Agent.run`: it pumps
the outbox to the broker when woken (new events, acks, connects) or every 0.25 s, and
publishes the retained status on connect, on reader state changes (at most once a
second) and every ``heartbeat_s``. An iteration that fails (the outbox cannot be read or
written, a bug) is logged once per distinct error, without a traceback for the agent's
own errors, and the next one waits :data:`BACKOFF_MIN_S` doubling to :data:`BACKOFF_MAX_S`
(acks do not wake it), so a broken outbox never turns the loop into a busy resend loop.
When the outbox rebuilds itself after damage, the agent records one ``outbox_recovered``
notice (device = the agent) naming the file kept and the events salvaged and lost.

A new ``boot`` (UUID) is made per start; events stored by an earlier boot keep their
own boot and seq. :meth:`Agent.shutdown` (SIGTERM) stops the readers (each finishes
the batch in hand), gives the forwarder up to ``flush_s`` to send and see confirmed
what is pending, publishes the retained ``offline`` status, disconnects and closes
the outbox. Whatever is unconfirmed stays in the outbox for the next start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from facility_contracts import codec, topics
from facility_contracts.envelope import DeviceNoticeBody, Status

from facility_edge import SOFTWARE
from facility_edge.clock import Clock, SystemClock
from facility_edge.config import EdgeConfig
from facility_edge.door_counter import start_door_counter
from facility_edge.errors import EdgeError, ErrorStreak
from facility_edge.forwarder import Forwarder
from facility_edge.outbox import Outbox, Recovery
from facility_edge.publisher import Message, Publisher
from facility_edge.recorder import Batch, Draft, Recorder
from facility_edge.rfid import start_rfid_reader
from facility_edge.status import (
    DeviceStates,
    disk_free_mb,
    offline_status,
    online_status,
    rss_mb,
    trim_memory,
)

logger = logging.getLogger(__name__)


def start_qr_camera(cfg: Any, recorder: Recorder, states: DeviceStates) -> Any:
    """Start a QR camera; OpenCV is imported here only, so agents without cameras stay small."""
    from facility_edge.camera.device import start_qr_camera as start

    return start(cfg, recorder, states)


def start_health_kiosk(cfg: Any, recorder: Recorder, states: DeviceStates) -> Any:
    """Start a health kiosk reader (its local broker client, key and worker thread)."""
    from facility_edge.kiosk_reader import start_health_kiosk as start

    return start(cfg, recorder, states)


#: Device kinds (config ``type``) -> function starting a reader for one device.
DEVICE_STARTERS: dict[str, Callable[..., Any]] = {
    "door_counter": start_door_counter,
    "rfid_reader": start_rfid_reader,
    "qr_camera": start_qr_camera,
    "health_kiosk": start_health_kiosk,
}
#: Least time between two status messages triggered by state changes, ms.
STATUS_MIN_GAP_MS = 1000
#: Main loop wake-up period, s.
TICK_S = 0.25
#: Wait after a failed loop iteration, s: doubled after each further failure up to
#: BACKOFF_MAX_S; back to TICK_S after a good one.
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 8.0


def open_outbox(cfg: EdgeConfig) -> Outbox:
    """Open (creating the data folder, mode 0700) the SQLite outbox of ``cfg``.

    Raises:
        OutboxUnusable: the folder cannot be created or used (a person must act).
        OutboxError: the outbox cannot be opened for another reason (disk full ...).
    """
    from facility_edge.outbox_recovery import outbox_error
    from facility_edge.outbox_sqlite import SqliteOutbox

    try:
        cfg.agent.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise outbox_error(f"cannot create the data folder {cfg.agent.data_dir}", exc) from exc
    return SqliteOutbox(
        cfg.outbox_path,
        max_events=cfg.outbox.max_events,
        ack_timeout_ms=round(cfg.outbox.ack_timeout_s * 1000),
    )


class Agent:
    """One edge agent.

    Args:
        cfg: validated configuration.
        clock: time source (the system clock by default).
        outbox: event store (the SQLite outbox in ``agent.data_dir`` by default).
        publisher: MQTT seam (paho by default).
        boot: boot id (a new UUID by default).
    """

    def __init__(
        self,
        cfg: EdgeConfig,
        *,
        clock: Clock | None = None,
        outbox: Outbox | None = None,
        publisher: Publisher | None = None,
        boot: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock or SystemClock()
        self.outbox = outbox if outbox is not None else open_outbox(cfg)
        self._wake = threading.Event()
        self.recorder = Recorder(
            self.outbox, self.clock, agent_id=cfg.agent.id, boot=boot, on_recorded=self._wake.set
        )
        self.boot = self.recorder.boot
        self.states = DeviceStates(on_change=self._status_changed)
        self.status_topic = topics.status_topic(cfg.agent.site, cfg.agent.id)
        self.publisher = publisher if publisher is not None else self._paho()
        self.forwarder = Forwarder(
            self.outbox,
            self.publisher,
            self.clock,
            site=cfg.agent.site,
            boot=self.boot,
            mono0=self.recorder.mono0,
            max_inflight=cfg.outbox.max_inflight,
        )
        self.readers: list[Any] = []
        self._status_due = True
        self._last_status_ms: int | None = None
        #: Seconds to wait before the next iteration (0: the normal wake-up).
        self.backoff_s = 0.0
        self._streak = ErrorStreak()
        self._unreported: list[Recovery] = []

    def _paho(self) -> Publisher:
        from facility_edge.publisher import PahoPublisher

        return PahoPublisher(
            self.cfg.mqtt,
            client_id=self.cfg.client_id,
            will=self.goodbye(),
            max_inflight=self.cfg.outbox.max_inflight,
        )

    def goodbye(self, ts: int | None = None) -> Message:
        """The retained ``offline`` status: the last will (no ``ts``) or a clean stop's."""
        status = offline_status(agent_id=self.cfg.agent.id, boot=self.boot, ts=ts)
        return Message(self.status_topic, codec.encode_status(status), retain=True)

    def start(self) -> None:
        """Subscribe to acks, connect in the background, start the device readers."""
        logger.info(
            "agent=%s site=%s boot=%s starting: %d devices, %d events waiting",
            self.cfg.agent.id,
            self.cfg.agent.site,
            self.boot,
            len(self.cfg.devices),
            self.outbox.depth(),
        )
        self.publisher.subscribe(self.forwarder.ack_topics(self.cfg.event_devices))
        self.publisher.start(self._on_connect, self._on_message)
        for dev in self.cfg.devices:
            self.readers.append(DEVICE_STARTERS[dev.type](dev, self.recorder, self.states))

    def _on_connect(self) -> None:
        self.forwarder.reconnected()
        self._status_due = True
        self._wake.set()

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.forwarder.handle_message(topic, payload)
        self._wake.set()

    def _status_changed(self) -> None:
        self._status_due = True
        self._wake.set()

    def tick(self) -> bool:
        """One loop iteration: report outbox rebuilds, pump the outbox, publish status
        when due. Never raises: returns False when it failed (then :attr:`backoff_s` > 0)."""
        try:
            self._report_recoveries()
            while self.forwarder.pump():
                pass
            self._maybe_status()
        except Exception as exc:  # loop boundary: log once, back off, carry on
            self._failed(exc)
            return False
        failures = self._streak.recovered()
        if failures is not None:
            logger.info(
                "agent=%s loop works again after %d failed iterations",
                self.cfg.agent.id,
                failures,
            )
        self.backoff_s = 0.0
        return True

    def _failed(self, exc: Exception) -> None:
        """Count a failed iteration, double the back-off, log when the error is new."""
        self.backoff_s = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, self.backoff_s * 2))
        error = f"{type(exc).__name__}: {exc}"
        if not self._streak.failed(error):
            logger.debug(
                "agent=%s loop still failing (%d): %s",
                self.cfg.agent.id,
                self._streak.failures,
                error,
            )
            return
        logger.error(
            "agent=%s loop iteration failed: %s; retrying every %.1f-%.0f s (logged again "
            "when the error changes)",
            self.cfg.agent.id,
            error,
            BACKOFF_MIN_S,
            BACKOFF_MAX_S,
            exc_info=not isinstance(exc, EdgeError),  # a traceback for bugs only
        )

    def _report_recoveries(self) -> None:
        """Record one ``outbox_recovered`` notice per outbox rebuild not reported yet
        (kept for the next iteration when the outbox refuses them)."""
        self._unreported.extend(self.outbox.take_recoveries())
        if not self._unreported:
            return
        drafts = [
            Draft(
                self.cfg.agent.id,
                DeviceNoticeBody(code="outbox_recovered", detail=r.summary()[:200]),
            )
            for r in self._unreported
        ]
        self.recorder.record(lambda stamp: Batch(drafts))
        self._unreported.clear()

    def _maybe_status(self) -> None:
        now = self.clock.mono_ms()
        last = self._last_status_ms
        heartbeat_due = last is None or now - last >= self.cfg.heartbeat_s * 1000
        change_due = self._status_due and (last is None or now - last >= STATUS_MIN_GAP_MS)
        if not (heartbeat_due or change_due) or not self.publisher.connected():
            return
        self._status_due = False  # cleared first: a change signalled meanwhile stays due
        if not self.publisher.publish(
            Message(self.status_topic, codec.encode_status(self.status()), retain=True)
        ):
            self._status_due = True
        else:
            self._last_status_ms = now
            if heartbeat_due:
                trim_memory()
            logger.debug(
                "agent=%s status published: outbox=%d rss=%.1f MiB",
                self.cfg.agent.id,
                self.outbox.depth(),
                rss_mb(),
            )

    def status(self) -> Status:
        """The current ``online`` status (heartbeat)."""
        return online_status(
            agent_id=self.cfg.agent.id,
            boot=self.boot,
            ts=self.clock.wall_ms(),
            uptime_s=self.recorder.since_boot_ms(self.clock.mono_ms()) / 1000,
            outbox=self.outbox.depth(),
            synced=self.clock.synced(),
            disk_free=disk_free_mb(self.cfg.agent.data_dir),
            heartbeat_s=self.cfg.heartbeat_s,
            software=SOFTWARE,
            devices=self.states.snapshot(),
        )

    def run(self, stop: threading.Event, flush_s: float = 3.0) -> None:
        """Start, loop until ``stop`` is set, then :meth:`shutdown`."""
        self.start()
        trim_memory()
        logger.info("agent=%s running (rss %.1f MiB)", self.cfg.agent.id, rss_mb())
        try:
            while not stop.is_set():
                if self.backoff_s:
                    stop.wait(self.backoff_s)  # acks and new events do not cut it short
                else:
                    self._wake.wait(TICK_S)
                self._wake.clear()
                self.tick()
        finally:
            self.shutdown(flush_s)

    def shutdown(self, flush_s: float = 3.0) -> None:
        """Stop readers, flush for up to ``flush_s`` seconds, say goodbye, close the outbox."""
        for reader in self.readers:
            reader.stop()
        deadline = time.monotonic() + flush_s
        while self.publisher.connected() and self.outbox.depth() and time.monotonic() < deadline:
            if not self.tick():
                break  # a failing loop flushes nothing: stop now
            self._wake.wait(0.05)
            self._wake.clear()
        left = self.outbox.depth()
        self.publisher.stop(self.goodbye(self.clock.wall_ms()))
        self.outbox.close()
        logger.info("agent=%s stopped; %d events stay in the outbox", self.cfg.agent.id, left)
