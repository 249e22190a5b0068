"""paho-mqtt 2.x behind a small interface: start, publish, wait_idle, stop, connected.

A persistent session (fixed client id, ``clean_session`` false on 3.1.1, or
``clean_start`` false plus a session expiry on 5) subscribed at QoS 1, so the broker
queues events while the gateway restarts. The client is
:class:`~facility_gateway.pahoclient.FastClient` (buffered reads, batched PUBACKs) when
the installed paho allows. paho's network thread calls the message handler directly;
the handler must be quick (see :mod:`facility_gateway.intake`).
paho acknowledges QoS 1 messages to the broker after the handler returns; that is not
a confirmation to the edge (only the ``ack`` topic is).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from facility_gateway.pahoclient import make_client

logger = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes, bool], None]


def _acknowledged(info: mqtt.MQTTMessageInfo) -> bool:
    """True when the broker acknowledged the publish, or it will never be sent.

    paho queues a QoS 1 publish made while disconnected (rc ``MQTT_ERR_NO_CONN``) and
    sends it after reconnecting, but ``is_published()`` then raises; its private
    ``_published`` flag still turns true on PUBACK.
    """
    try:
        return info.is_published()
    except ValueError:
        return True  # never queued (queue full): nothing to wait for
    except RuntimeError:
        if info.rc == mqtt.MQTT_ERR_NO_CONN:
            return bool(getattr(info, "_published", False))
        return True


@dataclass(frozen=True, slots=True)
class MqttOptions:
    """Connection options (see :class:`~facility_gateway.settings.GatewaySettings`)."""

    host: str
    port: int
    client_id: str
    subscriptions: Sequence[str]
    protocol: str = "3.1.1"
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    tls_ca_file: Path | None = None


class MqttLink:
    """One MQTT connection with a persistent session, subscribed at QoS 1."""

    def __init__(self, options: MqttOptions) -> None:
        self.options = options
        self._v5 = options.protocol == "5"
        client = make_client(options.client_id, self._v5)
        if options.username is not None:
            client.username_pw_set(options.username, options.password)
        if options.tls_ca_file is not None:
            client.tls_set(ca_certs=str(options.tls_ca_file))
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self.client = client
        self.connected = threading.Event()
        self._handler: MessageHandler | None = None
        self._sent: deque[mqtt.MQTTMessageInfo] = deque()
        self._sent_lock = threading.Lock()

    def start(self, handler: MessageHandler) -> None:
        """Connect in the background (retrying until the broker answers) and deliver
        every message to ``handler(topic, payload, dup)`` on paho's thread."""
        self._handler = handler

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            handler(msg.topic, msg.payload, msg.dup)  # type: ignore[arg-type] # bytes here

        self.client.on_message = on_message
        opts = self.options
        if self._v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = opts.session_expiry_s
            self.client.connect_async(
                opts.host, opts.port, opts.keepalive_s, clean_start=False, properties=props
            )
        else:
            self.client.connect_async(opts.host, opts.port, opts.keepalive_s)
        self.client.loop_start()

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            logger.error(
                "broker %s:%s refused connection: %s", self.options.host, self.options.port, reason
            )
            return
        logger.info(
            "connected to %s:%s as %s (session present: %s)",
            self.options.host,
            self.options.port,
            self.options.client_id,
            flags.session_present,
        )
        if self.options.subscriptions:  # a publish-only link has none
            client.subscribe([(flt, 1) for flt in self.options.subscriptions])
        self.connected.set()

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.connected.clear()
        # A clean disconnect (ours at stop, or the broker's "Normal disconnection") is
        # routine; a lost connection is worth a warning (paho reconnects by itself).
        clean = not getattr(reason, "is_failure", True)
        logger.log(
            logging.INFO if clean else logging.WARNING,
            "disconnected from %s:%s: %s%s",
            self.options.host,
            self.options.port,
            reason,
            "" if clean else "; retrying",
        )

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        logger.warning("cannot connect to %s:%s, retrying", self.options.host, self.options.port)

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 (paho queues it while disconnected and sends it later)."""
        info = self.client.publish(topic, payload, qos=1)
        with self._sent_lock:
            self._sent.append(info)
            while self._sent and _acknowledged(self._sent[0]):
                self._sent.popleft()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every publish is acknowledged by the broker; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._sent_lock:
                while self._sent and _acknowledged(self._sent[0]):
                    self._sent.popleft()
                if not self._sent:
                    return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Disconnect (the session stays on the broker) and stop paho's thread."""
        self.client.disconnect()
        self.client.loop_stop()
