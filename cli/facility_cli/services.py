"""Real servers as child processes on free loopback ports, for tests and benchmarks.

Each class starts one server from its Debian package with data in a temporary folder,
waits until it answers, and can be killed (SIGKILL) and restarted on the same port with
the same data, which is how the fault tests break the pipeline. See ``../shared/SERVICES.md``
for each server's traps (VictoriaMetrics' retention, Mosquitto's queue limits).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path


class ServiceError(RuntimeError):
    """A server binary is missing or did not become ready in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_tcp(port: int, timeout: float = 15.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise ServiceError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def wait_http(url: str, timeout: float = 20.0) -> None:
    """Wait until ``url`` answers 2xx."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=0.5) as resp,  # noqa: S310 - loopback only
        ):
            if 200 <= resp.status < 300:
                return
        time.sleep(0.1)
    raise ServiceError(f"{url} did not answer within {timeout}s")


def _need(binary: str) -> str:
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if path is None:
        raise ServiceError(f"{binary} not found: run ./scripts/test (it installs the servers)")
    return path


class _Process:
    """A child server process that can be killed and restarted on the same port."""

    name = "server"

    def __init__(self, workdir: Path | None = None) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"fo-{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def wait_ready(self) -> None:
        wait_tcp(self.port)

    def start(self) -> None:
        """Start (or restart) the server and wait until it is ready."""
        if self.running:
            return
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self.wait_ready()
        except ServiceError as exc:
            tail = self.log.read_text(errors="replace")[-2000:]
            self.stop()
            raise ServiceError(f"{self.name} failed to start: {exc}\n{tail}") from exc

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the server (no clean shutdown) and wait for it to die."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop politely (SIGTERM), then SIGKILL after 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Mosquitto(_Process):
    """Mosquitto 2 with the project's test configuration.

    Queues are sized on purpose (Mosquitto's defaults of 1,000 queued and 20 in-flight
    messages per client drop messages silently). ``persistence`` keeps sessions and
    queued QoS 1 messages across a restart (in ``workdir``), which the SIGKILL tests use:
    Mosquitto writes its database only at shutdown or on ``autosave_interval``.
    """

    name = "mosquitto"

    def __init__(
        self, workdir: Path | None = None, *, persistence: bool = True, extra: str = ""
    ) -> None:
        super().__init__(workdir)
        self.persistence = persistence
        self.extra = extra

    def config(self) -> str:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            "max_queued_messages 1000000",
            "max_queued_bytes 0",
            "max_inflight_messages 1000",
            "max_packet_size 1048576",
            "message_size_limit 0",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "set_tcp_nodelay true",
            self.extra,
        ]
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config())
        return [_need("mosquitto"), "-c", str(conf)]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class VictoriaMetrics(_Process):
    """VictoriaMetrics as the InfluxDB-API server (``/api/v2/write``).

    Retention is 100 years: its default of one month silently drops older points
    (the CalIt2 replay is from 2005). It keeps every sample, even duplicates, so
    counting samples proves "stored once".
    """

    name = "victoria-metrics"

    def command(self) -> list[str]:
        return [
            _need("victoria-metrics"),
            f"-storageDataPath={self.workdir}/data",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=100y",
            "-search.disableCache",
            "-search.latencyOffset=0s",
            "-loggerLevel=ERROR",
        ]

    def wait_ready(self) -> None:
        wait_http(f"{self.url}/health")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class InfluxDB1(_Process):
    """InfluxDB 1.6 (InfluxQL) for the dashboards' queries; write with ``/write``."""

    name = "influxdb"

    def __init__(self, workdir: Path | None = None) -> None:
        super().__init__(workdir)
        self.rpc_port = free_port()

    def command(self) -> list[str]:
        conf = self.workdir / "influxdb.conf"
        conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{self.workdir}/meta"\n'
            f'[data]\n  dir = "{self.workdir}/data"\n  wal-dir = "{self.workdir}/wal"\n'
            "  query-log-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
        )
        return [_need("influxd"), "-config", str(conf)]

    def wait_ready(self) -> None:
        wait_http(f"{self.url}/ping")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def env_flag(name: str) -> bool:
    """True when environment variable ``name`` is set to 1/true/yes."""
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}
