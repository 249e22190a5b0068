"""A Mosquitto started with the production configuration, and a small MQTT test client."""

from __future__ import annotations

import os
import pwd
import queue
import re
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from facility_cli.services import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"


class ProductionMosquitto(Mosquitto):
    """deploy/mosquitto/mosquitto.conf with only the machine-specific lines changed: a
    loopback listener on a free port, the generated files' folder, no persistence, and
    the current user (the container installs the files for the broker's own user)."""

    def __init__(self, workdir: Path, auth_dir: Path) -> None:
        super().__init__(workdir, persistence=False)
        self.auth_dir = auth_dir

    def config(self) -> str:
        text = PRODUCTION_CONF.read_text()
        swaps = {
            r"^listener 1883$": f"listener {self.port} 127.0.0.1",
            r"^password_file .*$": f"password_file {self.auth_dir}/passwd",
            r"^acl_file .*$": f"acl_file {self.auth_dir}/acl",
            r"^persistence true$": "persistence false",
            r"^persistence_location .*$": f"persistence_location {self.workdir}/",
        }
        for pattern, line in swaps.items():
            text, n = re.subn(pattern, line, text, flags=re.M)
            assert n == 1, f"{pattern} not in {PRODUCTION_CONF}"
        return text + f"user {pwd.getpwuid(os.getuid()).pw_name}\n"


class Client:
    """A paho client (MQTT 3.1.1) that records what it receives."""

    def __init__(
        self,
        port: int,
        user: str | None = None,
        password: str | None = None,
        *,
        client_id: str | None = None,
        clean_session: bool = True,
    ) -> None:
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"t-{uuid.uuid4().hex[:12]}",
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        if user is not None:
            self.c.username_pw_set(user, password)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.reason: mqtt.ReasonCode | None = None
        self.granted: list[int] = []
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = self._on_subscribe
        self.c.on_message = lambda c, u, m: self.inbox.put((m.topic, m.payload))
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        self.connected.wait(5)

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:  # type: ignore[no-untyped-def]
        self.reason = reason
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reasons, properties) -> None:  # type: ignore[no-untyped-def]
        self.granted = [r.value for r in reasons]
        self.subscribed.set()

    @property
    def ok(self) -> bool:
        """Connected and accepted by the broker."""
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, *topics: str) -> None:
        self.subscribed.clear()
        self.c.subscribe([(t, 1) for t in topics])
        assert self.subscribed.wait(5), "no SUBACK"

    def publish(self, topic: str, payload: str) -> None:
        info = self.c.publish(topic, payload.encode(), qos=1)
        info.wait_for_publish(5)

    def until(self, payload: str, timeout: float = 5.0) -> list[tuple[str, str]]:
        """Everything received up to and including ``payload`` (AssertionError if it never
        comes). Messages of one publisher arrive in order, so a marker published after a
        forbidden message proves the forbidden one was not delivered."""
        seen = []
        while True:
            try:
                topic, body = self.inbox.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"{payload!r} never arrived; got {seen}") from None
            seen.append((topic, body.decode()))
            if body.decode() == payload:
                return seen

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()
