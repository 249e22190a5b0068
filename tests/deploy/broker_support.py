"""A Mosquitto started with the production configuration, and a small MQTT test client."""

from __future__ import annotations

import os
import pwd
import queue
import re
import signal
import threading
import uuid
from pathlib import Path
from typing import Self

import paho.mqtt.client as mqtt
from click.testing import Result
from facility_cli.services import Mosquitto, free_port
from facility_server.cli import app
from facility_server.core.db import make_engine, session_factory, session_scope
from facility_server.core.migrate import upgrade
from facility_server.setup.importer import import_setup_text
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
TLS_CONF = ROOT / "deploy" / "mosquitto" / "tls.conf"

SETUP = """
version: 1
complex:
  site_id: {site}
  name: 测试综合体
  location:
    district: {{code: {district}, name: 区}}
    street: {{code: jd, name: 街道}}
    community: {{code: sq, name: 社区}}
spaces:
  - {{code: kids-play, name: 儿童游乐区, type: kids_play, capacity: 30,
     hours: {{tue: ["09:00-17:30"]}}}}
  - {{code: culture, name: 文化室, type: culture, capacity: 30, hours: {{tue: ["09:00-17:30"]}}}}
devices:
  - {{code: edge-1, kind: edge_agent, transport: mqtt}}
  - {{code: dc-kids, kind: door_counter, space: kids-play, transport: serial, via: edge-1}}
  - {{code: dc-culture, kind: door_counter, space: culture, transport: serial, via: edge-1}}
  - {{code: edge-2, kind: edge_agent, transport: mqtt}}
  - {{code: dc-other, kind: door_counter, space: culture, transport: serial, via: edge-2}}
  - {{code: sat-1, kind: satisfaction_terminal, space: kids-play, transport: mqtt}}
  - {{code: sat-2, kind: satisfaction_terminal, space: culture, transport: mqtt}}
"""
SERVICES = {
    "FACILITY_BROKER_GATEWAY_PASSWORD": "gw-" + uuid.uuid4().hex,
    "FACILITY_BROKER_SERVER_PASSWORD": "sv-" + uuid.uuid4().hex,
    "FACILITY_BROKER_HEALTH_PASSWORD": "hc-" + uuid.uuid4().hex,
}


def make_registry(path: Path, *sites: tuple[str, str]) -> str:
    """A migrated SQLite registry at ``path`` with one complex per ``(site, district)``."""
    db = f"sqlite:///{path}"
    upgrade(db)
    engine = make_engine(db)
    with session_scope(session_factory(engine)) as session:
        for site, district in sites:
            import_setup_text(session, SETUP.format(site=site, district=district))
    engine.dispose()
    return db


def run_export(db: str, out: Path, *extra: str, env: dict[str, str | None] | None = None) -> Result:
    """`facility server export-broker-auth` as an operator runs it (services from SERVICES)."""
    return CliRunner().invoke(
        app,
        ["export-broker-auth", "--db", db, "--out", str(out), *extra],
        env=SERVICES if env is None else env,  # type: ignore[arg-type]
    )


def printed_secrets(stdout: str) -> dict[str, str]:
    """``user -> secret`` from the export's stdout (one ``user secret`` per line)."""
    return dict(line.split(" ", 1) for line in stdout.splitlines() if line.count(" ") == 1)


class ProductionMosquitto(Mosquitto):
    """deploy/mosquitto/mosquitto.conf with only the machine-specific lines changed: a
    loopback listener on a free port, the generated files' folder, no persistence, and
    the current user (the container installs the files for the broker's own user)."""

    def __init__(self, workdir: Path, auth_dir: Path, tls_dir: Path | None = None) -> None:
        super().__init__(workdir, persistence=False)
        self.auth_dir = auth_dir
        self.tls_dir = tls_dir
        self.tls_port = free_port()

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
        if self.tls_dir is not None:  # what start.sh appends when certificates are mounted
            tls = TLS_CONF.read_text().replace("/mosquitto/tls/", f"{self.tls_dir}/")
            text += tls.replace("listener 8883", f"listener {self.tls_port} 127.0.0.1")
        return text + f"user {pwd.getpwuid(os.getuid()).pw_name}\n"

    def reload(self) -> None:
        """SIGHUP, as deploy/mosquitto/reload-auth.sh sends: re-read passwd and acl."""
        assert self.proc is not None, "the broker is not running"
        self.proc.send_signal(signal.SIGHUP)

    def reload_until(self, user: str, password: str, *, ok: bool, tries: int = 50) -> bool:
        """Reload, then connect as ``user`` until the broker accepts (``ok``) or refuses
        the login: the reload is asynchronous. False when it never does in ``tries``."""
        self.reload()
        for _ in range(tries):
            with Client(self.port, user, password) as client:
                if client.ok == ok:
                    return True
        return False


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
        ca: Path | None = None,
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
        if ca is not None:
            self.c.tls_set(ca_certs=str(ca))
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.subscribed = threading.Event()
        self.reason: mqtt.ReasonCode | None = None
        self.granted: list[int] = []
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = self._on_subscribe
        self.c.on_disconnect = lambda *args: self.disconnected.set()
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
