"""Pieces of the benchmarks that decide what they report (real Mosquitto)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import paho.mqtt.client as mqtt
import psutil
import pytest
from facility_cli.bench_edge import StatusWatch
from facility_cli.bench_ingest import cpu_s
from facility_cli.services import Mosquitto
from facility_contracts import topics
from facility_contracts.codec import encode_status
from facility_contracts.envelope import Status

pytestmark = pytest.mark.integration


def _publish(port: int, topic: str, payload: bytes, retain: bool) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def _wait(check: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_status_watch_ignores_a_status_from_before(mosquitto: Mosquitto) -> None:
    """A retained online status stamped before since_ms does not count; a fresh one does."""
    site, device = "bench", f"edge-{uuid.uuid4().hex[:6]}"
    topic = topics.status_topic(site, device)
    since = time.time_ns() // 10**6
    old = Status(device=device, state="online", ts=since - 60_000)
    _publish(mosquitto.port, topic, encode_status(old), retain=True)
    watch = StatusWatch(mosquitto.port, site, device, since)
    try:
        assert not _wait(lambda: watch.at is not None, 1.0)
        before = time.monotonic()
        fresh = Status(device=device, state="online", ts=since + 1)
        _publish(mosquitto.port, topic, encode_status(fresh), retain=True)
        assert _wait(lambda: watch.at is not None)
        assert watch.at is not None and watch.at >= before
    finally:
        watch.close()
        _publish(mosquitto.port, topic, b"", retain=True)  # clear the retained status


def test_cpu_s_counts_the_process_tree() -> None:
    """cpu_s of a shell includes the CPU time of the Python child it waits for."""
    burn = "import time; t = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
    script = f"{sys.executable} -c '{burn}import time; time.sleep(60)'; true"
    shell = subprocess.Popen(["sh", "-c", script])
    try:
        sh = psutil.Process(shell.pid)
        assert _wait(lambda: cpu_s([sh]) >= 0.3)
        assert sum(sh.cpu_times()[:2]) < 0.1  # the shell itself idles
    finally:
        for p in psutil.Process(shell.pid).children(recursive=True):
            p.kill()
        shell.kill()
        shell.wait(10)
