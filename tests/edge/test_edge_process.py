"""`facility edge run` as a process: SIGKILL and restart lose no crossing; SIGTERM is clean."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from edge_support import Gateway, PtyLine, frame, wait_until
from facility_contracts.envelope import DoorCrossing
from facility_edge.outbox_sqlite import SqliteOutbox

pytestmark = pytest.mark.integration


class CounterSim(threading.Thread):
    """A door counter on a pty: a frame every 40 ms; people cross only while ``armed``."""

    def __init__(self, line: PtyLine) -> None:
        super().__init__(daemon=True)
        self.line = line
        self.armed = False
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.tin = self.tout = self.seq = 0
        self.rng = random.Random(5)

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.is_set():
            with self.lock:
                if self.armed:
                    self.tin += self.rng.randrange(0, 3)
                    self.tout += self.rng.randrange(0, 2)
                self.seq = (self.seq + 1) % 65536
                data = frame(self.seq, int(time.monotonic() - started), self.tin, self.tout)
            self.line.write(data)
            time.sleep(0.04)

    def totals(self) -> tuple[int, int]:
        with self.lock:
            return self.tin, self.tout


def write_config(tmp_path: Path, port: int, site: str, device_path: Path) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(f"""
agent: {{id: edge-1, site: {site}, data_dir: data}}
mqtt: {{host: 127.0.0.1, port: {port}, keepalive_s: 5}}
outbox: {{max_inflight: 50, ack_timeout_s: 2}}
heartbeat_s: 1
devices:
  - {{type: door_counter, id: dc-1, space: hall, port: {device_path}}}
""")
    return path


def test_sigkill_and_restart_lose_no_crossing(
    mosquitto_factory: Callable[..., object],
    gateway_factory: Callable[..., Gateway],
    agent_process: Callable[[Path], subprocess.Popen[bytes]],
    pty_line: PtyLine,
    tmp_path: Path,
    site_id: str,
) -> None:
    """Crossings before, during and after an agent SIGKILL all reach the gateway exactly."""
    broker = mosquitto_factory(persistence=False)
    port = broker.port  # type: ignore[attr-defined]
    gw = gateway_factory(port, site_id)
    config = write_config(tmp_path, port, site_id, pty_line.path)
    sim = CounterSim(pty_line)
    sim.start()
    first = agent_process(config)
    boot1 = wait_until(lambda: gw.reading_boot("dc-1", set()), timeout=15)
    time.sleep(0.3)  # the first frames (all zero) set the baseline
    sim.armed = True
    time.sleep(1.0)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    wait_until(lambda: any(s.state == "offline" and s.boot == boot1 for s in gw.statuses))
    time.sleep(0.5)  # people keep crossing while the agent is down
    second = agent_process(config)
    boot2 = wait_until(lambda: gw.reading_boot("dc-1", {boot1}), timeout=15)
    time.sleep(1.0)
    sim.armed = False
    want = sim.totals()

    def counted() -> tuple[int, int]:
        evs = [e for e in gw.snapshot().values() if isinstance(e, DoorCrossing)]
        return sum(e.body.in_ for e in evs), sum(e.body.out for e in evs)

    wait_until(lambda: counted() == want, timeout=15)
    assert want[0] > 20  # people really crossed
    for boot in (boot1, boot2):
        seqs = sorted(e.seq for e in gw.snapshot().values() if e.boot == boot)
        assert seqs == list(range(1, len(seqs) + 1)), f"gap in boot {boot}"
    time.sleep(0.5)
    sim.stop.set()
    second.send_signal(signal.SIGTERM)
    assert second.wait(15) == 0
    last = wait_until(lambda: [s for s in gw.statuses if s.boot == boot2 and s.state == "offline"])
    assert last[-1].ts is not None  # the clean goodbye, not the will
    box = SqliteOutbox(tmp_path / "data" / "outbox.sqlite3")
    assert box.depth() == 0
    box.close()


def test_run_with_bad_config_exits_2(tmp_path: Path) -> None:
    """`facility edge run` with an invalid configuration exits with code 2 and names the field."""
    path = tmp_path / "edge.yaml"
    path.write_text("agent: {id: Bad Id, site: s, data_dir: d}\nmqtt: {}\n")
    done = subprocess.run(
        [sys.executable, "-m", "facility_cli.main", "edge", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "agent.id" in done.stderr
