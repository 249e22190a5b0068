"""`facility server run`: uvicorn plus the MQTT ingest, as a real process on a real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from facility_cli.services import Mosquitto, free_port, wait_http
from facility_contracts import codec, topics
from facility_contracts.envelope import DoorCrossing, DoorCrossingBody
from facility_server.models import DoorCrossing as CrossingRow
from facility_server.setup import import_setup
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

pytestmark = pytest.mark.integration
SITE = "xihu-beishan-shuguang"


def test_run_serves_api_and_ingests(
    db_url: str,
    factory: sessionmaker[Session],
    example_path: Path,
    mosquitto_factory: Callable[..., Mosquitto],
    tmp_path: Path,
) -> None:
    """The run command answers /healthz and stores a door crossing published to the broker."""
    broker = mosquitto_factory(persistence=False)
    with factory() as s:
        import_setup(s, example_path)
        s.commit()
    port = free_port()
    env = {**os.environ, "FACILITY_SERVER_MQTT_CLIENT_ID": f"server-{uuid.uuid4().hex[:8]}"}
    cmd = [
        sys.executable,
        "-m",
        "facility_cli.main",
        "server",
        "run",
        "--db",
        db_url,
        "--port",
        str(port),
        "--mqtt",
        broker.url,
    ]
    with (tmp_path / "server.log").open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
        event = DoorCrossing(
            id=f"evt-{uuid.uuid4().hex}",
            device="dc-culture",
            boot="b1",
            seq=1,
            ts=1_780_365_600_000,
            mono=1,
            synced=True,
            body=DoorCrossingBody(**{"in": 3}, out=0, space="culture"),
        )
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-" + uuid.uuid4().hex[:8])
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        deadline = time.monotonic() + 15
        stored = 0
        while time.monotonic() < deadline and not stored:
            pub.publish(
                topics.event_topic(SITE, "edge-main"), codec.encode_event(event), qos=1
            ).wait_for_publish(5)
            time.sleep(0.5)
            with factory() as s:
                stored = s.scalar(select(func.count()).select_from(CrossingRow)) or 0
        pub.loop_stop()
        pub.disconnect()
        assert stored == 1  # sent until seen, stored once (same event id)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=5) as resp:
            assert resp.status == 200
    finally:
        proc.terminate()
        proc.wait(15)
