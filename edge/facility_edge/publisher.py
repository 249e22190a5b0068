"""The MQTT seam: a five-method :class:`Publisher` and its paho-mqtt 2.x implementation.

The agent talks to the broker only through :class:`Publisher` (``start``, ``stop``,
``connected``, ``subscribe``, ``publish``), so its loop runs in tests against a
hand-written fake. :class:`PahoPublisher` uses paho-mqtt 2.x
(``CallbackAPIVersion.VERSION2``) with:

- QoS 1 for everything it publishes and subscribes;
- a persistent session under a fixed client id: ``clean_session=False`` for MQTT
  3.1.1, ``clean_start=False`` plus a session expiry interval for MQTT 5, so acks
  published while the agent is away are queued by the broker;
- a last will (the retained ``offline`` status), set before every connect;
- reconnects by paho's loop thread with backoff (1 s doubling to 16 s); subscriptions
  are renewed on every connect (the broker may have lost the session).

The connection is logged once per change of state (:class:`LinkLog`): a broker that
cannot be reached, refuses, or is lost is one WARNING naming ``host:port``, the reason
and that it is retrying; the retries themselves are DEBUG. paho's own per-retry
"Client is not connected" ERROR is logged at DEBUG.

Callbacks run on paho's network thread; exceptions in them are logged, never raised
into paho (which would stop its loop).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from facility_edge.config import MqttSection

logger = logging.getLogger(__name__)

RECONNECT_DELAY_S = (1, 16)

LogEntry = tuple[int, str]


class LinkLog:
    """What to log about the broker connection: one line per change of state.

    Pure: each method takes what happened and returns ``(level, message)``. States:
    ``connecting`` (before the first answer), ``up``, ``down`` (unreachable or lost),
    ``refused`` (the broker answered no, e.g. bad credentials).

    Args:
        where: ``host:port`` of the broker.
        retry: how retries happen, for the messages (``every 1-16 s``).
    """

    def __init__(self, where: str, retry: str) -> None:
        self.where = where
        self.retry = retry
        self.state = "connecting"
        self.failures = 0

    def _change(self, state: str, message: str) -> LogEntry:
        """WARNING on entering ``state``, DEBUG while staying in it."""
        if self.state == state:
            return logging.DEBUG, f"{message} (attempt {self.failures})"
        self.state = state
        return logging.WARNING, f"{message}; retrying {self.retry}"

    def connect_failed(self, reason: str) -> LogEntry:
        """A connection attempt failed before the broker answered."""
        self.failures += 1
        return self._change("down", f"mqtt broker {self.where} unreachable: {reason}")

    def refused(self, reason: str) -> LogEntry:
        """The broker answered the CONNECT with a failure code."""
        self.failures += 1
        return self._change("refused", f"mqtt broker {self.where} refused the connection: {reason}")

    def connected(self, session_present: bool) -> LogEntry:
        """The broker accepted the connection."""
        after = f" after {self.failures} failed attempts" if self.failures else ""
        self.state, self.failures = "up", 0
        return (
            logging.INFO,
            f"mqtt connected to {self.where}{after} (session present: {session_present})",
        )

    def disconnected(self, reason: str, clean: bool) -> LogEntry:
        """The connection ended: ``clean`` for our own disconnect or a normal one."""
        if clean:
            self.state = "connecting"
            return logging.INFO, f"mqtt disconnected from {self.where}: {reason}"
        if self.state != "up":
            return logging.DEBUG, f"mqtt connection attempt to {self.where} ended: {reason}"
        self.state = "down"
        message = f"mqtt connection to {self.where} lost: {reason}; retrying {self.retry}"
        return logging.WARNING, message


#: paho's reason for a connection that ended without a DISCONNECT packet from the broker
#: (the socket closed or failed: ``MQTT_ERR_CONN_LOST`` and other socket errors), from
#: ``paho.mqtt.client.convert_disconnect_error_code_to_reason_code`` (paho-mqtt 2.x).
PAHO_SOCKET_CLOSED = "Unspecified error"
SOCKET_CLOSED = "connection closed by the broker or the network"


def disconnect_reason(reason: str, from_broker: bool) -> str:
    """Why a connection ended, as an operator reads it (pure).

    paho names a socket that closed without a DISCONNECT packet "Unspecified error"
    (MQTT 5's code 0x80); that becomes :data:`SOCKET_CLOSED`. Any other reason, and a
    DISCONNECT packet the broker sent (``from_broker``: MQTT 5 only), keeps paho's text
    (``Keep alive timeout``, ``Session taken over``, ``Normal disconnection``).
    """
    if reason == PAHO_SOCKET_CLOSED and not from_broker:
        return SOCKET_CLOSED
    return reason


class _PahoLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """paho's logger, with its per-retry "Client is not connected" ERROR at DEBUG.

    paho 2.x logs that ERROR from its loop after every failed (re)connect attempt and
    after a clean disconnect; :class:`LinkLog` reports those states instead.
    """

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level >= logging.ERROR and str(msg).startswith("Client is not connected"):
            level = logging.DEBUG
        super().log(level, msg, *args, **kwargs)


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message to publish (QoS 1)."""

    topic: str
    payload: bytes
    retain: bool = False


OnConnect = Callable[[], None]
OnMessage = Callable[[str, bytes], None]


class Publisher(Protocol):
    """What the agent needs from an MQTT client."""

    def start(self, on_connect: OnConnect, on_message: OnMessage) -> None:
        """Connect in the background and keep reconnecting; ``on_connect`` runs after each
        successful connect (after the subscriptions were renewed)."""
        ...

    def stop(self, goodbye: Message | None = None, timeout_s: float = 2.0) -> None:
        """Publish ``goodbye`` (waiting up to ``timeout_s`` for the broker) and disconnect."""
        ...

    def connected(self) -> bool:
        """True while connected to the broker."""
        ...

    def subscribe(self, topics: list[str]) -> None:
        """Subscribe (QoS 1) now if connected, and again after every connect."""
        ...

    def publish(self, message: Message) -> bool:
        """Queue a message on the wire; False when not connected (nothing queued)."""
        ...


class PahoPublisher:
    """:class:`Publisher` over paho-mqtt 2.x.

    Args:
        cfg: the ``mqtt`` configuration section.
        client_id: the fixed client id of the persistent session.
        will: the last will (retained ``offline`` status).
        max_inflight: paho's in-flight window (QoS 1 messages awaiting PUBACK).
    """

    def __init__(
        self, cfg: MqttSection, *, client_id: str, will: Message, max_inflight: int = 100
    ) -> None:
        import paho.mqtt.client as mqtt  # heavy-ish: only when a real client is made
        from paho.mqtt.enums import CallbackAPIVersion

        self._mqtt = mqtt
        self.cfg = cfg
        self.client_id = client_id
        self._topics: list[str] = []
        self._lock = threading.Lock()
        self._on_connect: OnConnect = lambda: None
        self._on_message: OnMessage = lambda topic, payload: None
        self._stopping = False
        low, high = RECONNECT_DELAY_S
        self.link_log = LinkLog(f"{cfg.host}:{cfg.port}", f"every {low}-{high} s")
        v5 = cfg.protocol == "5"
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=None if v5 else False,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        )
        self._configure(will, max_inflight)

    def _configure(self, will: Message, max_inflight: int) -> None:
        c, cfg = self._client, self.cfg
        c.enable_logger(_PahoLog(logging.getLogger("paho.mqtt")))  # type: ignore[arg-type]
        c.max_inflight_messages_set(max_inflight)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(*RECONNECT_DELAY_S)
        c.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        if cfg.username is not None:
            password = cfg.password.get_secret_value() if cfg.password else None
            c.username_pw_set(cfg.username, password)
        if cfg.tls is not None:
            c.tls_set(
                ca_certs=_s(cfg.tls.ca_file),
                certfile=_s(cfg.tls.cert_file),
                keyfile=_s(cfg.tls.key_file),
            )
            c.tls_insecure_set(cfg.tls.insecure)
        c.on_connect = self._handle_connect
        c.on_connect_fail = self._handle_connect_fail
        c.on_disconnect = self._handle_disconnect
        c.on_message = self._handle_message

    def start(self, on_connect: OnConnect, on_message: OnMessage) -> None:
        self._on_connect, self._on_message = on_connect, on_message
        kwargs: dict[str, Any] = {}
        if self.cfg.protocol == "5":
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.cfg.session_expiry_s
            kwargs = {"clean_start": False, "properties": props}
        logger.info(
            "mqtt connecting to %s:%d as %s (MQTT %s)",
            self.cfg.host,
            self.cfg.port,
            self.client_id,
            self.cfg.protocol,
        )
        self._client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s, **kwargs)
        self._client.loop_start()

    def stop(self, goodbye: Message | None = None, timeout_s: float = 2.0) -> None:
        if goodbye is not None and self.connected():
            info = self._client.publish(
                goodbye.topic, goodbye.payload, qos=1, retain=goodbye.retain
            )
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:
                logger.warning("goodbye status not confirmed: %s", exc)
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()

    def connected(self) -> bool:
        return bool(self._client.is_connected())

    def subscribe(self, topics: list[str]) -> None:
        with self._lock:
            new = [t for t in topics if t not in self._topics]
            self._topics.extend(new)
        if new and self.connected():
            self._client.subscribe([(t, 1) for t in new])

    def publish(self, message: Message) -> bool:
        if not self.connected():
            return False
        info = self._client.publish(message.topic, message.payload, qos=1, retain=message.retain)
        return info.rc == self._mqtt.MQTT_ERR_SUCCESS

    def _handle_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            logger.log(*self.link_log.refused(str(reason)))
            return
        logger.log(*self.link_log.connected(flags.session_present))
        with self._lock:
            topics = list(self._topics)
        if topics:
            client.subscribe([(t, 1) for t in topics])
        self._safe(self._on_connect)

    def _handle_connect_fail(self, client: Any, userdata: Any) -> None:
        # paho calls this inside its `except OSError` around the connect, so the
        # exception being handled is the reason (refused, unknown host, timeout).
        exc = sys.exc_info()[1]
        reason = (getattr(exc, "strerror", None) or str(exc)) if exc else "connection failed"
        logger.log(*self.link_log.connect_failed(reason))

    def _handle_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        clean = self._stopping or not getattr(reason, "is_failure", True)
        from_broker = bool(getattr(flags, "is_disconnect_packet_from_server", False))
        text = disconnect_reason(str(reason), from_broker)
        logger.log(*self.link_log.disconnected(text, clean))

    def _handle_message(self, client: Any, userdata: Any, message: Any) -> None:
        self._safe(self._on_message, message.topic, bytes(message.payload))

    def _safe(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # loop boundary: never let an exception stop paho's thread
            logger.exception("mqtt callback %s failed", getattr(fn, "__name__", fn))


def _s(path: object) -> str | None:
    return None if path is None else str(path)
