"""The gateway over two processes: MQTT receive here, the pipeline in a child.

CPython runs one thread at a time, and paho's network thread alone takes most of a core
at full rate. So the parent does only what paho needs: its thread appends
``(topic, payload, dup, received_ms)`` to a bounded queue (full: shed, unconfirmed),
and a sender thread ships the queue in lists over a pipe (``marshal``: both ends are
the same interpreter, and it is faster than pickle for these tuples). The child runs the
same :class:`~facility_gateway.app.Core` as the in-process gateway (decode, dedupe,
write, mark stored) and publishes confirmations on its own MQTT connection
(``{client_id}-acks``). It reports its counters back; the parent adds its own ``shed``.

Lifecycle: :meth:`SplitGateway.stop` sends an end marker, the child finishes its batch,
confirms and exits 0. If the parent dies, the child sees the pipe close and does the
same. If the child dies (a crash, or the test fault ``exit_after_write``), the parent
notices, sets :attr:`SplitGateway.failed` to its exit status and :meth:`wait_done`
returns, so ``facility gateway run`` exits with that status.
"""

from __future__ import annotations

import logging
import marshal
import multiprocessing
import signal
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from facility_gateway.app import Core, mqtt_options
from facility_gateway.errors import GatewayError
from facility_gateway.intake import IntakeQueue
from facility_gateway.runtime import tune_gc
from facility_gateway.settings import GatewaySettings
from facility_gateway.stats import log_line
from facility_gateway.subscriber import MqttLink

logger = logging.getLogger(__name__)

Raw = tuple[str, bytes, bool, int]
#: Messages per pipe transfer, at most.
SEND_MAX = 2000
#: Longest a received message waits in the parent before it is shipped, s.
SEND_WAIT_S = 0.002


def _child_logging(level: str) -> None:
    logging.Formatter.converter = time.gmtime
    logging.basicConfig(
        level=level,
        format="%(asctime)sZ %(levelname)s %(name)s "
        "[worker %(process)d] %(threadName)s: %(message)s",
    )


def _feed(core: Core, inbox: Connection) -> None:
    """Child: decode every shipped message into the core's intake until the end marker."""
    shed_seen = 0
    while True:
        try:
            data = inbox.recv_bytes()
        except (EOFError, OSError):
            logger.warning("the MQTT process went away: finishing the current batch")
            return
        if not data:
            return  # the end marker
        messages, parent_shed = marshal.loads(data)  # noqa: S302 - from our own parent
        if parent_shed > shed_seen:
            core.stats.add(shed=parent_shed - shed_seen)
            shed_seen = parent_shed
        handle = core.intake.handle
        for topic, payload, dup, received_ms in messages:
            handle(topic, payload, dup, received_ms)


def child_main(data: dict[str, Any], inbox: Connection, outbox: Connection) -> None:
    """Entry point of the pipeline process (spawned; ``data`` is the settings dump)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    settings = GatewaySettings(**data)
    _child_logging(settings.log_level)
    link = MqttLink(mqtt_options(settings, receive=False))
    try:
        core = Core(settings, link.publish)
    except GatewayError as exc:
        outbox.send(("error", str(exc)))
        return
    core.on_stats = lambda: outbox.send(("stats", core.snapshot()))  # type: ignore[method-assign]
    signal.signal(signal.SIGTERM, lambda *_: inbox.close())
    link.start(lambda *_: None)
    core.start()
    tune_gc()
    outbox.send(("ready", core.owner))
    _feed(core, inbox)
    core.stop(60.0)
    if not link.wait_idle(5.0):
        logger.warning("some confirmations were not acknowledged by the broker")
    link.stop()
    core.close()
    outbox.send(("stats", core.snapshot()))


class SplitGateway:
    """A gateway whose pipeline runs in a child process (see the module docstring).

    Args:
        settings: validated settings.
    """

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.link = MqttLink(mqtt_options(settings))
        self.pending: IntakeQueue[Raw] = IntakeQueue(settings.queue_max)
        self.shed = 0
        self.closed = False
        self.failed: int | None = None
        self.owner = "?"
        self._done = threading.Event()
        self._snapshot: dict[str, Any] = {}
        ctx = multiprocessing.get_context("spawn")
        child_in, self._to_child = ctx.Pipe(duplex=False)
        self._from_child, child_out = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=child_main,
            name="gateway-pipeline",
            daemon=True,
            args=(settings.model_dump(), child_in, child_out),
        )
        self._child_ends = (child_in, child_out)
        self._stopping = False
        self._sender: threading.Thread | None = None

    def handle(self, topic: str, payload: bytes, dup: bool) -> None:
        """paho's thread: queue the raw message, or shed it when the queue is full."""
        if self.closed:
            return
        if not self.pending.offer((topic, payload, dup, time.time_ns() // 1_000_000)):
            self.shed += 1

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the child, wait until its stores are open, then connect to the broker.

        Raises:
            GatewayError: the child could not open its stores or did not start.
        """
        self.process.start()
        for end in self._child_ends:
            end.close()
        if not self._from_child.poll(timeout_s):
            raise GatewayError("the pipeline process did not start")
        kind, value = self._from_child.recv()
        if kind != "ready":
            self.process.join(10)
            raise GatewayError(f"the pipeline process failed: {value}")
        self.owner = value
        self._sender = threading.Thread(target=self._send, name="gateway-sender", daemon=True)
        self._sender.start()
        threading.Thread(target=self._watch, name="gateway-watch", daemon=True).start()
        self.link.start(self.handle)
        logger.info(
            "gateway %s started (pipeline in process %s): writer=%s share_group=%s",
            self.owner,
            self.process.pid,
            self.settings.writer,
            self.settings.share_group,
        )

    def _send(self) -> None:
        """Ship queued messages to the child; the only writer of the pipe."""
        try:
            while not self.closed:
                batch = self.pending.take(SEND_MAX, SEND_WAIT_S, idle_s=0.2)
                if batch and not self.closed:
                    self._to_child.send_bytes(marshal.dumps((batch, self.shed)))
            self._to_child.send_bytes(b"")  # end marker: finish the batch in hand and exit
        except (OSError, ValueError):
            pass  # the child is gone; _watch reports it

    def _watch(self) -> None:
        while True:
            try:
                kind, value = self._from_child.recv()
            except (EOFError, OSError):
                break
            if kind == "stats":
                self._snapshot = value
        self.process.join(30)
        code = self.process.exitcode
        if not self._stopping:
            self.failed = code if code else 1
            logger.error("the pipeline process ended unexpectedly (exit status %s)", code)
        self._done.set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait until the broker accepted the receiving connection."""
        return self.link.connected.wait(timeout_s)

    def wait_done(self, timeout_s: float) -> bool:
        """Wait until the child ended (after :meth:`stop`, or by itself: see ``failed``)."""
        return self._done.wait(timeout_s)

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop receiving; the child finishes its batch, confirms it and exits."""
        self._stopping = True
        self.closed = True
        if self._sender is not None:
            self._sender.join(10)
        left = self.pending.clear()
        if left:
            logger.info("%d received messages left unconfirmed (the edge resends them)", left)
        if not self._done.wait(timeout_s):
            logger.error("pipeline process did not end within %.0f s; killing it", timeout_s)
            self.process.kill()
        self.link.stop()
        logger.info("gateway %s stopped: %s", self.owner, log_line(self.snapshot()))

    def snapshot(self) -> dict[str, Any]:
        """The child's latest counters (reported every ``stats_interval_s``)."""
        data = dict(self._snapshot) or {"shed": 0}
        data["receive_queue_depth"] = len(self.pending)
        data["receive_queue_high_water"] = self.pending.high_water
        return data
