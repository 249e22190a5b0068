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

Callbacks run on paho's network thread; exceptions in them are logged, never raised
into paho (which would stop its loop).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from facility_edge.config import MqttSection

logger = logging.getLogger(__name__)

RECONNECT_DELAY_S = (1, 16)


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
        c.enable_logger(logging.getLogger("paho.mqtt"))
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
        self._client.disable_logger()  # paho 2.2 logs a spurious ERROR after a clean disconnect
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
            logger.warning("mqtt connect refused: %s", reason)
            return
        logger.info("mqtt connected (session present: %s)", flags.session_present)
        with self._lock:
            topics = list(self._topics)
        if topics:
            client.subscribe([(t, 1) for t in topics])
        self._safe(self._on_connect)

    def _handle_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        logger.warning("mqtt disconnected: %s", reason)

    def _handle_message(self, client: Any, userdata: Any, message: Any) -> None:
        self._safe(self._on_message, message.topic, bytes(message.payload))

    def _safe(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # loop boundary: never let an exception stop paho's thread
            logger.exception("mqtt callback %s failed", getattr(fn, "__name__", fn))


def _s(path: object) -> str | None:
    return None if path is None else str(path)
