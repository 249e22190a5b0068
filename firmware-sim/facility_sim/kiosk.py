"""A simulated health kiosk: an MQTT-native device on the complex's LOCAL broker.

The kiosk publishes each measuring session (:class:`facility_contracts.kiosk.KioskSession`)
at QoS 1 on ``kiosk/v1/{kiosk}/session`` (``docs/protocols.md``, health kiosk). It uses
paho-mqtt 2 (MQTT 3.1.1) with its own fixed client id (``kiosk-{kiosk}`` by default) and
a persistent session (``clean_session=False``).

Delivery: a session stays in :attr:`MqttKiosk.pending` until the broker's PUBACK for it.
A session published while the kiosk is offline is kept and sent on the next connect; a
session sent but not acknowledged when the connection dropped is sent again by paho on
the reconnect (MQTT 3.1.1 section 4.4, DUP set). A session may therefore arrive twice;
its id is the same, and the edge stores it once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from facility_contracts.kiosk import KioskSession, encode_session, session_topic

logger = logging.getLogger(__name__)


class MqttKiosk:
    """One kiosk's MQTT side.

    Args:
        url: the local broker, ``mqtt://[user:password@]host:port``.
        kiosk: the kiosk id (a topic level; lowercase letters, digits, ``-``, ``_``).
        client_id: fixed client id; ``kiosk-{kiosk}`` by default.
        keepalive_s: MQTT keepalive, s.

    Raises:
        ValueError: ``url`` is not ``mqtt://``.
    """

    def __init__(
        self, url: str, kiosk: str, *, client_id: str | None = None, keepalive_s: int = 30
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "mqtt" or not parsed.hostname:
            raise ValueError(f"broker URL must be mqtt://host:port, got {url!r}")
        self.host, self.port = parsed.hostname, parsed.port or 1883
        self.kiosk, self.keepalive_s = kiosk, keepalive_s
        self.topic = session_topic(kiosk)
        self.pending: dict[str, KioskSession] = {}
        self.confirmed = 0
        self._handed: dict[int, str] = {}  # paho message id -> session id (awaiting PUBACK)
        self._early: set[int] = set()  # PUBACKs that came before their id was registered
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"kiosk-{kiosk}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if parsed.username:
            self.client.username_pw_set(parsed.username, parsed.password)
        self.client.reconnect_delay_set(0.2, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    def start(self) -> MqttKiosk:
        """Connect in the background (retrying until :meth:`stop`)."""
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive_s)
        self.client.loop_start()
        return self

    def publish(self, session: KioskSession) -> None:
        """Publish one session (QoS 1), kept in :attr:`pending` until the broker acks it."""
        with self._lock:
            self.pending[session.id] = session
        if self.client.is_connected():
            self._send(session)

    def _send(self, session: KioskSession) -> None:
        # Not under self._lock: paho calls on_publish holding its own message lock.
        info = self.client.publish(self.topic, encode_session(session), qos=1)
        with self._lock:
            if info.mid in self._early:  # the PUBACK came before this line
                self._early.discard(info.mid)
                self._confirm(session.id)
            else:
                self._handed[info.mid] = session.id

    def _confirm(self, session_id: str) -> None:
        if self.pending.pop(session_id, None) is not None:
            self.confirmed += 1

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("kiosk %s: local broker refused the connection: %s", self.kiosk, reason)
            return
        self.connected.set()
        with self._lock:
            handed = set(self._handed.values())
            backlog = [s for i, s in self.pending.items() if i not in handed]
        for session in backlog:  # published while offline (paho resends the handed ones)
            self._send(session)
        logger.info(
            "kiosk %s: connected; %d sessions sent from the backlog", self.kiosk, len(backlog)
        )

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        logger.info(
            "kiosk %s: disconnected (%s); %d unconfirmed", self.kiosk, reason, len(self.pending)
        )

    def _on_publish(self, _c: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        with self._lock:
            session_id = self._handed.pop(mid, None)
            if session_id is None:
                self._early.add(mid)
            else:
                self._confirm(session_id)

    def wait_confirmed(self, timeout_s: float) -> bool:
        """Wait until every session is acknowledged; False after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self.pending:
                    return True
            time.sleep(0.05)
        with self._lock:
            return not self.pending

    def stop(self) -> None:
        """Disconnect (unconfirmed sessions stay in :attr:`pending`)."""
        self.client.disconnect()
        self.client.loop_stop()
