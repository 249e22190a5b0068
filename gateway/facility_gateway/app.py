"""The gateway assembled from its settings: MQTT link, intake, worker, stores, stats.

:class:`Core` is everything after the MQTT receive (intake, worker, stores, counters);
:class:`Gateway` runs it in this process next to paho's thread. For throughput,
:class:`~facility_gateway.split.SplitGateway` runs the same :class:`Core` in a child
process; :func:`make_gateway` picks one by ``settings.worker_process``.

:meth:`Gateway.stop` is the SIGTERM path: stop taking messages, let the worker finish
the batch in hand (write, mark stored, confirm), wait for the broker to acknowledge the
confirmations, disconnect. Messages still queued are left unconfirmed; the edge sends
them again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any, Protocol

from facility_contracts import topics

from facility_gateway.dedupe import DedupeStore
from facility_gateway.errors import DedupeUnavailable
from facility_gateway.faults import FaultHook
from facility_gateway.intake import Inbound, Intake, IntakeQueue
from facility_gateway.mapping import TimeRules
from facility_gateway.pipeline import AckPublisher, Worker, WorkerConfig
from facility_gateway.settings import GatewaySettings
from facility_gateway.stats import Stats, log_line, write_json_atomic
from facility_gateway.subscriber import MqttLink, MqttOptions
from facility_gateway.writer import PointWriter, make_writer

logger = logging.getLogger(__name__)

#: Dedupe records are pruned this often, s (the first time a minute after start).
PRUNE_EVERY_S = 3600.0


def mqtt_options(settings: GatewaySettings, *, receive: bool = True) -> MqttOptions:
    """MQTT options from the settings: events and status of all sites, or (``receive``
    false) a publish-only connection for confirmations under ``{client_id}-acks``."""
    subs = [
        topics.subscription("evt", share_group=settings.share_group),
        topics.subscription("status", share_group=settings.share_group),
    ]
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    return MqttOptions(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=settings.mqtt_client_id if receive else f"{settings.mqtt_client_id}-acks",
        subscriptions=subs if receive else (),
        protocol=settings.mqtt_protocol,
        username=settings.mqtt_username,
        password=password,
        keepalive_s=settings.mqtt_keepalive_s,
        session_expiry_s=settings.mqtt_session_expiry_s,
        tls_ca_file=settings.mqtt_tls_ca_file,
    )


def worker_config(settings: GatewaySettings, owner: str) -> WorkerConfig:
    """The worker's knobs from the settings."""
    return WorkerConfig(
        owner=owner,
        lease_s=settings.claim_lease_s,
        batch_size=settings.batch_size,
        flush_interval_s=settings.flush_interval_s,
        retry_initial_s=settings.retry_initial_s,
        retry_max_s=settings.retry_max_s,
        stop_grace_s=settings.stop_grace_s,
        rules=TimeRules.from_datetime(settings.min_event_time),
    )


def owner_id(settings: GatewaySettings) -> str:
    """A claim owner id unique to this process: client id, host, pid, random."""
    host, pid = socket.gethostname(), os.getpid()
    return f"{settings.mqtt_client_id}@{host}:{pid}:{uuid.uuid4().hex[:8]}"


class Core:
    """Intake, worker, stores and counters: the gateway after the MQTT receive.

    Args:
        settings: validated settings.
        publish_ack: publishes one confirmation (topic, payload) at QoS 1.
        writer: point store (default: from the settings).
        dedupe: dedupe store (default: from the settings).

    Raises:
        DedupeUnavailable: the dedupe store cannot be opened.
        StoreUnavailable: the embedded point store cannot be opened.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        publish_ack: AckPublisher,
        *,
        writer: PointWriter | None = None,
        dedupe: DedupeStore | None = None,
    ) -> None:
        self.settings = settings
        self.owner = owner_id(settings)
        self.stats = Stats()
        self.queue: IntakeQueue[Inbound] = IntakeQueue(settings.queue_max)
        self.intake = Intake(self.queue, self.stats)
        self.dedupe = dedupe or DedupeStore(
            settings.dedupe_url,
            table_prefix=settings.dedupe_table_prefix,
            synchronous=settings.dedupe_sqlite_synchronous,
        )
        self.writer = writer or make_writer(settings)
        self.worker = Worker(
            self.queue,
            self.intake,
            self.dedupe,
            self.writer,
            publish_ack,
            self.stats,
            worker_config(settings, self.owner),
            fault=FaultHook(settings.fault),
        )
        self.worker.tick = self.housekeeping
        self.extra_stats: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        self._next_stats = 0.0
        self._next_prune = time.monotonic() + 60.0

    def start(self) -> None:
        """Check the store's retention (VictoriaMetrics) and start the worker thread."""
        check = getattr(self.writer, "check_retention", None)
        if check is not None:
            check()
        self._thread = threading.Thread(target=self.worker.run, name="gateway-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        """Close the intake and let the worker finish the batch in hand."""
        self.intake.closed = True
        self.worker.request_stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.error("worker did not finish within %.0f s", timeout_s)
        left = self.queue.clear()
        if left:
            logger.info("%d queued messages left unconfirmed (the edge resends them)", left)

    def close(self) -> None:
        """Write the final counters and close the stores."""
        self.write_stats()
        self.writer.close()
        self.dedupe.close()
        logger.info("gateway %s stopped: %s", self.owner, log_line(self.snapshot()))

    def snapshot(self) -> dict[str, Any]:
        """Counters plus queue gauges."""
        self.stats.gauges.update(
            queue_depth=len(self.queue),
            queue_bound=self.queue.bound,
            queue_high_water=self.queue.high_water,
        )
        return {**self.stats.snapshot(), **self.extra_stats}

    def write_stats(self) -> None:
        """Write the counters to the stats file, if one is configured."""
        path = self.settings.stats_file
        if path is None:
            return
        try:
            write_json_atomic(path, {"owner": self.owner, **self.snapshot()})
        except OSError as exc:
            logger.warning("cannot write stats file %s: %s", path, exc)

    def housekeeping(self) -> None:
        """Called by the worker between batches: stats every interval, pruning hourly."""
        now = time.monotonic()
        if now >= self._next_stats:
            self._next_stats = now + self.settings.stats_interval_s
            logger.info("stats: %s", log_line(self.snapshot()))
            self.write_stats()
            self.on_stats()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_S
            try:
                pruned = self.dedupe.prune(self.settings.dedupe_retention_days)
            except DedupeUnavailable as exc:
                logger.warning("dedupe prune failed: %s", exc)
            else:
                logger.info(
                    "pruned %d dedupe records older than %.0f days",
                    pruned,
                    self.settings.dedupe_retention_days,
                )

    def on_stats(self) -> None:
        """Hook run after each periodic stats write (the split gateway reports upward)."""


class Runner(Protocol):
    """What the command line needs from a gateway, in-process or split."""

    failed: int | None

    def start(self) -> None: ...
    def stop(self, timeout_s: float = 60.0) -> None: ...
    def snapshot(self) -> dict[str, Any]: ...
    def wait_done(self, timeout_s: float) -> bool: ...


class Gateway:
    """A running gateway, everything in this process (paho's thread plus one worker).

    Args:
        settings: validated settings.
        writer: point store (default: from the settings).
        dedupe: dedupe store (default: from the settings).
        link: MQTT link (default: from the settings).
    """

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        writer: PointWriter | None = None,
        dedupe: DedupeStore | None = None,
        link: MqttLink | None = None,
    ) -> None:
        self.settings = settings
        self.link = link or MqttLink(mqtt_options(settings))
        self.core = Core(settings, self.link.publish, writer=writer, dedupe=dedupe)
        self.owner = self.core.owner
        self.stats, self.queue = self.core.stats, self.core.queue
        self.intake, self.worker = self.core.intake, self.core.worker
        self.failed: int | None = None

    def start(self) -> None:
        """Start the worker thread and connect (in the background) to the broker."""
        self.core.start()
        self.link.start(self.intake.handle)
        logger.info(
            "gateway %s started: writer=%s share_group=%s",
            self.owner,
            self.settings.writer,
            self.settings.share_group,
        )

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait until the broker accepted the connection."""
        return self.link.connected.wait(timeout_s)

    def wait_done(self, timeout_s: float) -> bool:
        """An in-process gateway ends only when stopped: waits and returns False."""
        time.sleep(timeout_s)
        return False

    def stop(self, timeout_s: float = 60.0) -> None:
        """Finish the current batch, confirm it, disconnect and close the stores."""
        self.core.stop(timeout_s)
        if not self.link.wait_idle(5.0):
            logger.warning("some confirmations were not acknowledged by the broker")
        self.link.stop()
        self.core.close()

    def snapshot(self) -> dict[str, Any]:
        """Counters plus queue gauges."""
        return self.core.snapshot()

    def write_stats(self) -> None:
        """Write the counters to the stats file, if one is configured."""
        self.core.write_stats()


def make_gateway(settings: GatewaySettings) -> Runner:
    """The gateway the settings ask for: split over two processes or all in this one."""
    if settings.worker_process:
        from facility_gateway.split import SplitGateway

        return SplitGateway(settings)
    return Gateway(settings)
