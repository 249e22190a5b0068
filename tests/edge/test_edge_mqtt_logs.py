"""What the agent logs about its broker connection: one line per change, never a flood."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

import pytest
from edge_support import wait_until
from facility_cli.services import Mosquitto
from facility_edge import publisher
from facility_edge.config import MqttSection
from facility_edge.publisher import LinkLog, Message, PahoPublisher, disconnect_reason

WARN, INFO, DEBUG = logging.WARNING, logging.INFO, logging.DEBUG


def free_port() -> int:
    """A loopback TCP port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_link_log_once_per_change() -> None:
    """Each state change is one line (WARNING for trouble, INFO for good news); repeats
    of a state are DEBUG."""
    log = LinkLog("mq.lan:1883", "every 1-16 s")
    seen = [
        log.connect_failed("Connection refused"),
        log.connect_failed("Connection refused"),
        log.connected(False),
        log.disconnected("connection closed by the broker or the network", clean=False),
        log.connect_failed("Connection refused"),
        log.refused("Not authorized"),
        log.refused("Not authorized"),
        log.disconnected("Normal disconnection", clean=False),
        log.connected(True),
        log.disconnected("Normal disconnection", clean=True),
    ]
    assert seen == [
        (WARN, "mqtt broker mq.lan:1883 unreachable: Connection refused; retrying every 1-16 s"),
        (DEBUG, "mqtt broker mq.lan:1883 unreachable: Connection refused (attempt 2)"),
        (INFO, "mqtt connected to mq.lan:1883 after 2 failed attempts (session present: False)"),
        (
            WARN,
            "mqtt connection to mq.lan:1883 lost: connection closed by the broker or the "
            "network; retrying every 1-16 s",
        ),
        (DEBUG, "mqtt broker mq.lan:1883 unreachable: Connection refused (attempt 1)"),
        (
            WARN,
            "mqtt broker mq.lan:1883 refused the connection: Not authorized; retrying every 1-16 s",
        ),
        (DEBUG, "mqtt broker mq.lan:1883 refused the connection: Not authorized (attempt 3)"),
        (DEBUG, "mqtt connection attempt to mq.lan:1883 ended: Normal disconnection"),
        (INFO, "mqtt connected to mq.lan:1883 after 3 failed attempts (session present: True)"),
        (INFO, "mqtt disconnected from mq.lan:1883: Normal disconnection"),
    ]


@pytest.mark.parametrize(
    ("reason", "from_broker", "shown"),
    [
        ("Unspecified error", False, "connection closed by the broker or the network"),
        ("Unspecified error", True, "Unspecified error"),
        ("Keep alive timeout", False, "Keep alive timeout"),
        ("Session taken over", True, "Session taken over"),
        ("Normal disconnection", False, "Normal disconnection"),
    ],
)
def test_disconnect_reason_names_a_closed_socket(
    reason: str, from_broker: bool, shown: str
) -> None:
    """paho's "Unspecified error" for a socket closed without a DISCONNECT packet reads
    as a closed connection; a broker's own DISCONNECT and other reasons keep paho's text."""
    assert disconnect_reason(reason, from_broker) == shown


def make_publisher(port: int) -> PahoPublisher:
    """A real paho publisher towards 127.0.0.1:port."""
    return PahoPublisher(
        MqttSection(host="127.0.0.1", port=port, keepalive_s=5),
        client_id=f"edge-log-{port}",
        will=Message("facility/v1/s/edge-1/status", b"{}", retain=True),
    )


def test_broker_down_is_one_warning_with_host_and_port(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no broker, many reconnect attempts give one WARNING naming host:port, the
    reason and the retry; no ERROR at all (paho's "Client is not connected" included)."""
    monkeypatch.setattr(publisher, "RECONNECT_DELAY_S", (0.05, 0.1))
    port = free_port()
    pub = make_publisher(port)
    attempts: list[float] = []
    with caplog.at_level(logging.DEBUG):
        pub.start(lambda: None, lambda topic, payload: None)
        pub._client.on_pre_connect = lambda *_: attempts.append(time.monotonic())
        wait_until(lambda: len(attempts) >= 4)
        assert not pub.publish(Message("t/x", b"1"))
        pub.stop()
    records = [r for r in caplog.records if r.name in ("facility_edge.publisher", "paho.mqtt")]
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == []
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert warnings == [
        f"mqtt broker 127.0.0.1:{port} unreachable: Connection refused; retrying every 0.05-0.1 s"
    ]


@pytest.mark.integration
def test_broker_lost_and_back_is_one_warning_then_info(
    mosquitto_factory: Callable[..., Mosquitto], caplog: pytest.LogCaptureFixture
) -> None:
    """A broker killed and restarted: one WARNING that the connection was lost (host:port,
    the closed connection as the reason, retrying), INFO when connected again, and the
    clean stop at INFO; never an ERROR."""
    broker = mosquitto_factory(persistence=False)
    pub = make_publisher(broker.port)
    where = f"127.0.0.1:{broker.port}"
    with caplog.at_level(logging.DEBUG):
        pub.start(lambda: None, lambda topic, payload: None)
        wait_until(pub.connected)
        broker.kill()
        wait_until(lambda: not pub.connected())
        time.sleep(1.5)  # at least one failed reconnect (paho waits 1 s first)
        broker.start()
        wait_until(pub.connected, timeout=20)
        pub.stop()
    records = [r for r in caplog.records if r.name in ("facility_edge.publisher", "paho.mqtt")]
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == []
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert warnings == [
        f"mqtt connection to {where} lost: connection closed by the broker or the network; "
        "retrying every 1-16 s"
    ]
    infos = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert infos[-1] == f"mqtt disconnected from {where}: Normal disconnection"
    assert any(m.startswith(f"mqtt connected to {where} after ") for m in infos)
