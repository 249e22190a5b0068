"""The ``health_kiosk`` device kind, I/O shell: the local broker -> the outbox.

One paho-mqtt 2.x client per ``health_kiosk`` device connects to the complex's LOCAL
broker (``broker``; MQTT 3.1.1, fixed client id ``edge-<agent>-<id>``,
``clean_session=False``) and subscribes at QoS 1 to the kiosks' session topics. Nothing
a kiosk measured is lost:

- **manual acks** (``manual_ack_set(True)``): the PUBACK for a message goes to the local
  broker only after its event (reading or ``reading_rejected`` notice) is committed to
  the outbox, so a message in hand when the agent dies is delivered again;
- **persistent session**: the broker keeps the subscription and queues the sessions
  published while the agent is down (up to its ``max_queued_messages``); they arrive
  after the restart;
- a session delivered again (the kiosk resent it, or the broker redelivered it) has the
  same id and is stored once (:class:`~facility_edge.recorder.Recorder`), then acked.

paho's network thread only queues messages; one worker thread records them in order
and acks. When the outbox refuses (full, I/O error) the worker retries the same message
every :data:`RETRY_S` with the reader state ``outbox_full``/``outbox_error``, without
acking: on stop, the message stays with the broker for the next start.

The reader's state shows in the agent's status (``Status.devices``) under the reader's
id and under each accepted kiosk's id (the kiosk's registry code): the listed
``kiosks`` from the start, a kiosk accepted through ``other_kiosks_space`` from its first
session on. A kiosk's state is its reader's (``reading`` while the local broker is
reachable): the local broker gives no sign of a kiosk being switched off.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from facility_edge.clock import Stamp
from facility_edge.config import HealthKioskConfig, kiosk_client_id
from facility_edge.errors import OutboxError, OutboxFull
from facility_edge.kiosk import KioskCore, Outcome
from facility_edge.pseudonym import load_key
from facility_edge.publisher import RECONNECT_DELAY_S, LinkLog, _PahoLog
from facility_edge.recorder import Batch, Recorder
from facility_edge.status import DeviceStates

logger = logging.getLogger(__name__)

#: Seconds between attempts to store a message the outbox refused.
RETRY_S = 1.0


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message from the local broker awaiting its outbox commit and PUBACK."""

    topic: str
    payload: bytes
    mid: int
    qos: int


class KioskReader:
    """Reads one ``health_kiosk`` device's kiosks from the local broker.

    Args:
        cfg: the device's configuration.
        recorder: numbers, stamps and stores events.
        states: where the reader state is shown (``starting``, ``reading``,
            ``disconnected``, ``outbox_full``, ``outbox_error``), under the reader's id
            and each accepted kiosk's id.
        key: the complex's pseudonym key.
        agent_id: the agent's id (client id; device of notices naming no kiosk).
    """

    def __init__(
        self,
        cfg: HealthKioskConfig,
        recorder: Recorder,
        states: DeviceStates,
        key: bytes,
        *,
        agent_id: str,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.cfg = cfg
        self.core = KioskCore(cfg, key, agent_id)
        self.recorder = recorder
        self.states = states
        self.repeats = 0
        self._inbox: queue.Queue[Inbound] = queue.Queue()
        self._stop = threading.Event()
        self._connected = False
        url = urlparse(cfg.broker)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 1883
        self.link_log = LinkLog(f"{self.host}:{self.port}", "every 1-16 s")
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=kiosk_client_id(agent_id, cfg),
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self._configure()
        self._worker = threading.Thread(target=self._work, name=f"kiosk-{cfg.id}", daemon=True)
        self._shown = list(dict.fromkeys([cfg.id, *sorted(cfg.kiosks)]))  # ids with its state
        self._show("starting")

    def _show(self, state: str) -> None:
        """Show ``state`` under the reader's id and each accepted kiosk's id."""
        self.states.set_many(list(self._shown), state)

    def _seen(self, kiosk: str) -> None:
        """Show the reader's state under ``kiosk`` too (accepted via other_kiosks_space)."""
        if kiosk not in self._shown:
            self._shown.append(kiosk)
            self.states.set(kiosk, self.states.snapshot().get(self.cfg.id, "reading"))

    def _configure(self) -> None:
        c, cfg = self.client, self.cfg
        c.enable_logger(_PahoLog(logging.getLogger("paho.mqtt")))  # type: ignore[arg-type]
        c.manual_ack_set(True)
        c.reconnect_delay_set(*RECONNECT_DELAY_S)
        if cfg.username is not None:
            password = cfg.password.get_secret_value() if cfg.password else None
            c.username_pw_set(cfg.username, password)
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message

    def start(self) -> KioskReader:
        """Connect in the background (reconnecting with backoff) and start the worker."""
        logger.info(
            "device=%s kiosk reader: local broker %s:%d, subscribing %s",
            self.cfg.id,
            self.host,
            self.port,
            ", ".join(self.core.subscriptions()),
        )
        self._worker.start()
        self.client.connect_async(self.host, self.port, self.cfg.keepalive_s)
        self.client.loop_start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the worker (the message in hand is finished or left unacked), disconnect."""
        self._stop.set()
        self._worker.join(timeout_s)
        self.client.disconnect()
        self.client.loop_stop()
        logger.info(
            "device=%s kiosk reader stopped: %d sessions stored, %d repeats, rejected %s",
            self.cfg.id,
            self.core.accepted - self.repeats,
            self.repeats,
            dict(self.core.rejected),
        )

    # paho's network thread
    def _on_connect(self, client: Any, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.log(*self.link_log.refused(str(reason)))
            return
        logger.log(*self.link_log.connected(flags.session_present))
        client.subscribe([(t, 1) for t in self.core.subscriptions()])
        self._connected = True
        if self.states.snapshot().get(self.cfg.id) in ("starting", "disconnected"):
            self._show("reading")

    def _on_connect_fail(self, _c: Any, _u: Any) -> None:
        logger.log(*self.link_log.connect_failed("connection failed"))
        self._show("disconnected")

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected = False
        clean = self._stop.is_set() or not getattr(reason, "is_failure", True)
        logger.log(*self.link_log.disconnected(str(reason), clean))
        if not self._stop.is_set():
            self._show("disconnected")

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        self._inbox.put(Inbound(msg.topic, bytes(msg.payload), msg.mid, msg.qos))

    # the worker thread
    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._inbox.get(timeout=0.25)
            except queue.Empty:
                continue
            try:
                if self._store(item):
                    self.client.ack(item.mid, item.qos)
            except Exception:  # loop boundary: never stop the worker; leave it unacked
                logger.exception("device=%s kiosk message on %s failed", self.cfg.id, item.topic)

    def _store(self, item: Inbound) -> bool:
        """Record one message, retrying while the outbox refuses; False when stopped."""
        while not self._stop.is_set():
            try:
                outcome = self._record(item)
            except OutboxFull:
                self._show("outbox_full")
            except OutboxError:
                self._show("outbox_error")
            else:
                self._log(outcome, item.topic)
                if self.states.snapshot().get(self.cfg.id) in ("outbox_full", "outbox_error"):
                    self._show("reading" if self._connected else "disconnected")
                if outcome.result == "accepted":
                    self._seen(outcome.device)
                return True
            self._stop.wait(RETRY_S)
        return False

    def _record(self, item: Inbound) -> Outcome:
        made: list[Outcome] = []

        def build(stamp: Stamp) -> Batch:
            draft, outcome = self.core.draft(item.topic, item.payload, stamp)
            made.append(outcome)
            return Batch([draft])

        events = self.recorder.record(build)
        outcome = made[-1]
        if outcome.result == "accepted" and not any(e.id == outcome.session for e in events):
            self.repeats += 1
            logger.info(
                "device=%s session %s stored already: acked", outcome.device, outcome.session
            )
        return outcome

    def _log(self, outcome: Outcome, topic: str) -> None:
        if outcome.result == "rejected":  # reason and field only: never card or values
            logger.warning(
                "device=%s kiosk message on %s rejected: %s session=%s (rejected so far: %s)",
                outcome.device,
                topic,
                outcome.detail,
                outcome.session or "-",
                dict(self.core.rejected),
            )
        else:
            logger.debug("device=%s session %s recorded", outcome.device, outcome.session)


def start_health_kiosk(
    cfg: HealthKioskConfig, recorder: Recorder, states: DeviceStates
) -> KioskReader:
    """Load the key and start the reader of one ``health_kiosk`` device.

    Raises:
        KeyFileError: the key file is missing, open to others or too short.
    """
    key = load_key(cfg.key_file)
    return KioskReader(cfg, recorder, states, key, agent_id=recorder.agent_id).start()
