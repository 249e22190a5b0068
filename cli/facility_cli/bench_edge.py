"""``facility bench edge``: the edge agent's memory, CPU per 1,000 events, and drain rate.

One run on this machine, all parts real: firmware-sim door counters on pseudo-terminals
replaying CalIt2 at full speed, the agent as its own process (``facility edge run``, the
same command a board runs), Mosquitto, and a gateway writing to VictoriaMetrics.

- ``rss_mb``: the agent's resident memory (VmRSS) in steady state after the drain (one
  heartbeat later), no camera support; ``rss_peak_mb`` its peak (VmHWM) during the run.
  The agent runs as installed by ``edge/deploy/install.sh``: its configuration is the
  defaults (in-flight window included) and its ``-OO`` bytecode is written first
  (``python -m facility_edge precompile``), as install.sh does.
- ``cpu_ms_per_1000_events``: the agent's user+system CPU time while it reads, stores
  and delivers a replay, per 1,000 events confirmed.
- ``drain_events_per_s``: the broker is down while the board keeps producing events
  for ``outage_s`` at ``rate`` events/s (the backlog is replayed traffic, produced at full
  speed); then the broker comes back and, from the first confirmation on, the outbox
  empties at this rate.
- ``reconnect_s``: from the broker's return to the agent's first ``online`` status on
  it (its reconnect backoff, at most 16 s).

Before the outage the agent is connected and the gateway has subscribed with its
persistent session, which the broker keeps across its restart (persistence on), so
events the agent sends while the gateway process starts again are queued for it, not
dropped (a dropped event would wait ``ack_timeout_s`` for its resend).
"""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from facility_contracts import topics
from facility_contracts.codec import decode_status
from facility_contracts.errors import ContractError
from facility_sim import calit2
from facility_sim.pty_port import PtyPort
from facility_sim.replay import Replay, ReplayOptions

from facility_cli.bench_ingest import start_gateways
from facility_cli.services import Mosquitto, VictoriaMetrics

CALIT2 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "calit2-door-counts.csv"
#: Door-crossing events one week of CalIt2 yields (38,434 crossings over 15 weeks; frames
#: carrying several crossings make it fewer events).
EVENTS_PER_WEEK_AT_LEAST = 2000


def _agent(work: Path, port: int, links: list[Path]) -> subprocess.Popen[bytes]:
    devices = "".join(
        f"  - {{type: door_counter, id: dc-{i}, space: space-{i}, port: '{link}', clock: device,"
        " max_rtc_skew_s: null}\n"
        for i, link in enumerate(links)
    )
    cfg = work / "edge.yaml"
    cfg.write_text(
        f"agent: {{id: edge-bench, site: bench, data_dir: {work / 'edge-data'}}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {port}, keepalive_s: 10}}\n"
        "heartbeat_s: 5\n"
        f"devices:\n{devices}"
    )
    log = (work / "edge.log").open("ab")
    subprocess.run(  # as install.sh does: the unit's user cannot write bytecode
        [sys.executable, "-OO", "-m", "facility_edge", "precompile"], check=True, stdout=log
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facility_cli.main",
            "edge",
            "run",
            "--config",
            str(cfg),
            "--log-level",
            "WARNING",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _depth(work: Path) -> int:
    db = work / "edge-data" / "outbox.sqlite3"
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def _replays(links: list[Path], weeks: int) -> tuple[list[PtyPort], list[Replay]]:
    """One replay per link, each ``weeks`` of CalIt2 (different weeks), re-timed to the present."""
    slots = calit2.load(CALIT2)
    ports, replays = [], []
    for i, link in enumerate(links):
        start = slots[0].start + timedelta(weeks=(i * weeks) % max(1, 15 - weeks + 1))
        part = calit2.select(slots, start, timedelta(weeks=weeks))
        part = calit2.retime(part, calit2.weeks_to_end_before(part, datetime.now(UTC)))
        port = PtyPort(link).open()
        ports.append(port)
        replays.append(Replay(part, port, ReplayOptions(speed=None)))
    return ports, replays


def _hwm_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class StatusWatch:
    """Records when (monotonic s) a device's first ``online`` status stamped at or after
    ``since_ms`` (UTC epoch ms) arrives: a status from before (retained) does not count."""

    def __init__(self, port: int, site: str, device: str, since_ms: int) -> None:
        self.at: float | None = None
        self._since_ms = since_ms
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-status")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(topics.status_topic(site, device), qos=1)
        self._client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            status = decode_status(msg.payload)
        except ContractError:
            return
        if self.at is None and status.state == "online" and (status.ts or 0) >= self._since_ms:
            self.at = time.monotonic()

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(30)


def _wait(pred: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def run(*, outage_s: float, rate: float) -> dict[str, Any]:
    """Measure and return the figures."""
    work = Path(tempfile.mkdtemp(prefix="fo-bench-edge-"))
    backlog_target = int(outage_s * rate)
    weeks = max(1, math.ceil(backlog_target / EVENTS_PER_WEEK_AT_LEAST))
    links = [work / f"dc-{i}" for i in range(max(1, math.ceil(weeks / 13)))]
    weeks_each = math.ceil(weeks / len(links))
    broker = Mosquitto(work / "broker", persistence=True)
    gws: list[subprocess.Popen[bytes]] = []
    with VictoriaMetrics() as vm:
        ports, replays = _replays(links, weeks_each)
        broker.start()
        _stop(start_gateways(1, broker, vm, work))  # its session stays on the broker
        agent = _agent(work, broker.port, links)
        proc = psutil.Process(agent.pid)
        watch = StatusWatch(broker.port, "bench", "edge-bench", 0)
        try:
            if not _wait(lambda: watch.at is not None, 60):
                raise RuntimeError("the edge agent did not come online")
            watch.close()
            broker.stop()  # the outage: no broker while the counters produce events
            cpu0 = sum(proc.cpu_times()[:2])
            for r in replays:
                r.start()
            for r in replays:
                r.wait(600)
            _wait(lambda: False, 2.0)
            backlog = _depth(work)
            broker.start()
            back = time.monotonic()
            watch = StatusWatch(broker.port, "bench", "edge-bench", time.time_ns() // 10**6)
            gws = start_gateways(1, broker, vm, work)
            _wait(lambda: _depth(work) < backlog, 120)
            t0 = time.monotonic()
            drained = _wait(lambda: _depth(work) == 0, 600)
            drain_s = time.monotonic() - t0
            cpu_ms = (sum(proc.cpu_times()[:2]) - cpu0) * 1000
            reconnect_s = (watch.at or math.nan) - back
            time.sleep(6.0)  # one heartbeat: the agent hands freed heap back to the OS
            rss = proc.memory_info().rss / 2**20
            peak = _hwm_mb(agent.pid)
        finally:
            watch.close()
            _stop([agent, *gws])
            for r in replays:
                r.stop()
            for p in ports:
                p.close()
            broker.stop()
    if not drained:
        raise RuntimeError(f"outbox not drained after 600 s ({_depth(work)} left)")
    return {
        "rss_mb": round(rss, 1),
        "rss_peak_mb": round(peak, 1),
        "cpu_ms_per_1000_events": round(cpu_ms / backlog * 1000, 1),
        "drain_events_per_s": round(backlog / drain_s, 1),
        "reconnect_s": round(reconnect_s, 1),
        "backlog_events": backlog,
        "outage_equivalent_s": round(backlog / rate, 1),
        "assumed_rate_events_per_s": rate,
    }
