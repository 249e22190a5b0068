"""The server's own MQTT subscription (paho-mqtt 2, MQTT 3.1.1, persistent session, QoS 1).

Status messages come through a plain subscription (retained status must reach us);
events through the shared subscription ``$share/{group}/facility/v1/+/+/evt``, a group
distinct from the gateways', so the server gets every event once per group. Each
message is decoded by :mod:`facility_contracts.codec`; one bad message is logged with
its topic and dropped, never stopping the loop.

The broker link is logged once per change of state, not per retry: a failed connection
or a lost broker at WARNING (``host:port``, the reason, "retrying"), a connection at INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from facility_contracts import codec, topics
from facility_contracts.errors import ContractError
from sqlalchemy.orm import Session, sessionmaker

from facility_server.core.db import session_scope
from facility_server.core.mqtt_url import parse_broker_url
from facility_server.ingest.store import store_event, store_status

logger = logging.getLogger(__name__)


class _Client(mqtt.Client):
    """paho's client, remembering why the last connection attempt failed (paho's
    ``on_connect_fail`` callback is not told)."""

    last_error: OSError | None = None

    def reconnect(self) -> mqtt.MQTTErrorCode:
        try:
            return super().reconnect()
        except OSError as exc:
            self.last_error = exc
            raise


class Ingest:
    """Subscribe and store; ``start()`` connects and runs paho's network thread.

    ``vitals_retention_days``: how long health readings are kept (default: the settings',
    read once here).

    Raises:
        ValueError: ``url`` is not ``mqtt://`` or ``mqtts://`` (see core.mqtt_url).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        url: str,
        *,
        client_id: str,
        share_group: str = "server",
        clock: Callable[[], datetime],
        vitals_retention_days: int | None = None,
    ) -> None:
        if vitals_retention_days is None:  # read once here, not per health reading
            from facility_server.core.settings import get_settings

            vitals_retention_days = get_settings().vitals_retention_days
        self.vitals_retention_days = vitals_retention_days
        self.address = parse_broker_url(url)
        self.host, self.port = self.address.host, self.address.port
        self.factory, self.clock = factory, clock
        self.filters = [
            (topics.subscription("status"), 1),
            (topics.subscription("evt", share_group=share_group), 1),
        ]
        self.client = _Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if self.address.username:
            self.client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 5)
        self.stored = 0
        #: Connection attempts that failed at the socket (refused, unreachable, DNS).
        self.connect_failures = 0
        self.link: str | None = None  # "up", "down" or "refused"; None before the first try
        self._stopping = False

    def start(self) -> None:
        """Connect (asynchronously, retrying) and start the network thread."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect cleanly and stop the network thread."""
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    def _set_link(self, state: str, level: int, msg: str, *args: object) -> None:
        """Log ``msg`` when the link enters ``state``; stay quiet while it stays there."""
        if state != self.link:
            self.link = state
            logger.log(level, msg, *args, extra={"broker": str(self.address)})

    def _on_connect(
        self, client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self._set_link(
                "refused",
                logging.WARNING,
                "ingest: broker %s refused the connection (%s); retrying",
                self.address,
                reason,
            )
            return
        client.subscribe(self.filters)
        self._set_link("up", logging.INFO, "ingest: connected to broker %s", self.address)
        logger.info("ingest: subscribed to %s", [f for f, _ in self.filters])

    def _on_connect_fail(self, client: mqtt.Client, _ud: Any) -> None:
        self.connect_failures += 1
        reason = getattr(client, "last_error", None) or "connection failed"
        self._set_link(
            "down",
            logging.WARNING,
            "ingest: cannot reach broker %s (%s); retrying",
            self.address,
            reason,
        )

    def _on_disconnect(
        self, _client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if self._stopping or self.link != "up":
            return  # our own stop, or the end of a refused attempt (already logged)
        self._set_link(
            "down",
            logging.WARNING,
            "ingest: lost the connection to broker %s (%s); retrying",
            self.address,
            reason,
        )

    def _on_message(self, _client: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self.handle(msg.topic, msg.payload, retained=bool(msg.retain))
        except Exception:
            logger.exception("ingest: message dropped", extra={"topic": msg.topic})

    def handle(self, topic_name: str, payload: bytes, *, retained: bool = False) -> bool:
        """Decode and store one message; False when it was invalid, unknown or a duplicate.

        An invalid ``health.reading`` event is also counted as a rejection of the topic's
        device (:func:`facility_server.vitals.ingest.reject_undecodable`; issue 7)."""
        topic = None
        try:
            topic = topics.parse_topic(topic_name)
            if topic.channel == "status":
                status = codec.decode_status(payload)
            elif topic.channel == "evt":
                event = codec.decode_event(payload)
            else:
                return False
        except ContractError as exc:
            logger.warning("ingest: invalid message on %s: %s", topic_name, exc)
            if topic is not None and topic.channel == "evt":
                self._count_rejected_reading(topic, payload, exc)
            return False
        with session_scope(self.factory) as session:
            if topic.channel == "status":
                stored = store_status(session, topic, status, self.clock(), retained=retained)
            else:
                stored = store_event(
                    session,
                    topic,
                    event,
                    self.clock(),
                    vitals_retention_days=self.vitals_retention_days,
                )
        self.stored += int(stored)
        return stored

    def _count_rejected_reading(
        self, topic: topics.Topic, payload: bytes, exc: ContractError
    ) -> None:
        from facility_server.vitals.ingest import is_health_payload, reject_undecodable

        if is_health_payload(payload):
            with session_scope(self.factory) as session:
                reject_undecodable(session, topic.site, topic.device, payload, exc, self.clock())
