"""Device health on a real Mosquitto: last will + heartbeat -> offline, one alert, recovery."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from facility_cli.services import Mosquitto
from facility_contracts import codec, topics
from facility_contracts.envelope import Status
from facility_server.health.runner import HealthTicker
from facility_server.ingest.subscriber import Ingest
from facility_server.models import Alert, Device
from facility_server.setup.importer import import_setup_text
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

pytestmark = pytest.mark.integration
HB = 1.0  # heartbeat of the simulated devices, s

SETUP = """
version: 1
complex:
  site_id: {site}
  name: 测试综合体
  location:
    district: {{code: xihu, name: 西湖区}}
    street: {{code: beishan, name: 北山街道}}
    community: {{code: shuguang, name: 曙光社区}}
spaces:
  - {{code: kids-play, name: 儿童游乐区, type: kids_play, capacity: 30,
     hours: {{tue: ["09:00-17:30"]}}}}
devices:
  - {{code: ci-1, kind: checkin_terminal, space: kids-play, transport: mqtt}}
  - {{code: sat-1, kind: satisfaction_terminal, space: kids-play, transport: mqtt}}
"""


def utcnow() -> datetime:
    """The real clock (this test runs in real time)."""
    return datetime.now(UTC)


class SimDevice:
    """An MQTT device: connects with a retained last will, then heartbeats every HB seconds.

    Its network loop runs in our own thread, so :meth:`kill` can stop it and close the
    socket without sending DISCONNECT, which makes the broker publish the will.
    """

    def __init__(self, port: int, site: str, code: str) -> None:
        self.site, self.code = site, code
        self.status_topic = topics.status_topic(site, code)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-{site}-{code}")
        offline = codec.encode_status(Status(device=code, state="offline"))
        self.client.will_set(self.status_topic, offline, qos=1, retain=True)
        self.client.connect("127.0.0.1", port, keepalive=5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        online = codec.encode_status(Status(device=self.code, state="online", heartbeat_s=HB))
        next_beat = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_beat:
                self.client.publish(self.status_topic, online, qos=1, retain=True)
                next_beat = time.monotonic() + HB
            self.client.loop(timeout=0.05)

    def kill(self) -> None:
        """Stop the loop and close the TCP socket without DISCONNECT."""
        self._stop.set()
        self._thread.join(5)
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def stop(self) -> None:
        """Disconnect politely (test cleanup)."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(5)
            self.client.disconnect()


def wait_for(predicate: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``predicate()`` held; fails after ``timeout`` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


def test_kill_connection_offline_one_alert_then_recovered(
    factory: sessionmaker[Session], mosquitto_factory: Callable[..., Mosquitto]
) -> None:
    """Killed connection: offline within 3 heartbeats, one alert; reconnect: recovered."""
    broker = mosquitto_factory(persistence=False)
    site = "t" + uuid.uuid4().hex[:10]
    with factory() as s:
        import_setup_text(s, SETUP.format(site=site))
        s.commit()
    ingest = Ingest(factory, broker.url, client_id=f"server-{site}", clock=utcnow)
    ticker = HealthTicker(factory, utcnow, interval_s=0.1, default_heartbeat_s=60)
    ingest.start()
    ticker.start()
    devices = [SimDevice(broker.port, site, "ci-1"), SimDevice(broker.port, site, "sat-1")]

    def health(code: str) -> str:
        with factory() as s:
            return s.scalar(select(Device.health).where(Device.code == code)) or ""

    def alerts() -> list[Alert]:
        with factory() as s:
            return list(s.scalars(select(Alert)))

    try:
        wait_for(lambda: health("ci-1") == "online" and health("sat-1") == "online", 10)
        devices[0].kill()
        killed = time.monotonic()
        wait_for(lambda: health("ci-1") == "offline", 3 * HB)
        wait_for(lambda: len(alerts()) == 1, 3 * HB + 0.5 - (time.monotonic() - killed))
        time.sleep(2 * HB)  # more ticks during the same outage add nothing
        assert [(a.kind, a.subject, a.state) for a in alerts()] == [
            ("device_offline", f"{site}/ci-1", "open")
        ]
        assert health("sat-1") == "online"
        devices[0] = SimDevice(broker.port, site, "ci-1")
        wait_for(lambda: health("ci-1") == "online", 3 * HB)
        wait_for(lambda: alerts()[0].state == "resolved", 2)
        assert [(a.state, a.resolution) for a in alerts()] == [("resolved", "recovered")]
    finally:
        for d in devices:
            d.stop()
        ticker.stop()
        ingest.stop()
