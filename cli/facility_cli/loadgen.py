"""Load for benchmarks: valid events published at QoS 1 by ``mosquitto_pub``.

The load generator must not be the bottleneck of what it measures, so events are
pre-encoded with the contract and handed to Mosquitto's own C client
(``mosquitto_pub -l``: one message per input line), one process per simulated device.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field

import uuid6
from facility_contracts import topics
from facility_contracts.codec import encode_event
from facility_contracts.envelope import DoorCrossing, DoorCrossingBody


@dataclass
class Load:
    """Pre-encoded events per device topic; ``ids[i]`` is the id of ``lines[topic][k]``."""

    site: str
    lines: dict[str, list[bytes]] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.lines.values())


def make_load(n: int, devices: int, site: str = "bench", ts_ms: int | None = None) -> Load:
    """``n`` door-crossing events spread over ``devices`` devices, each with a unique id."""
    load = Load(site)
    now = ts_ms if ts_ms is not None else time.time_ns() // 1_000_000
    boot = uuid.uuid4().hex[:12]
    for d in range(devices):
        dev = f"dc-{d:03d}"
        topic = topics.event_topic(site, dev)
        load.lines[topic], load.ids[topic] = [], []
        for seq in range(1, n // devices + (1 if d < n % devices else 0) + 1):
            eid = str(uuid6.uuid7())  # as the edge makes them: time-ordered (RFC 9562)
            ev = DoorCrossing(
                id=eid,
                device=dev,
                boot=boot,
                seq=seq,
                ts=now + seq,
                mono=seq,
                synced=True,
                body=DoorCrossingBody(**{"in": 1}, out=0, space="bench-space"),
            )
            load.lines[topic].append(encode_event(ev))
            load.ids[topic].append(eid)
    return load


def mosquitto_pub(port: int, topic: str) -> subprocess.Popen[bytes]:
    """A ``mosquitto_pub -l`` process publishing each stdin line at QoS 1 to ``topic``."""
    exe = shutil.which("mosquitto_pub")
    if exe is None:
        raise RuntimeError("mosquitto_pub not found: apt-get install mosquitto-clients")
    return subprocess.Popen(
        [
            exe,
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-q",
            "1",
            "-t",
            topic,
            "-l",
            "-i",
            f"loadgen-{uuid.uuid4().hex[:8]}",
        ],
        stdin=subprocess.PIPE,
    )


def blast(port: int, load: Load) -> float:
    """Publish the whole load as fast as possible; returns the start time (monotonic s)."""
    procs = [mosquitto_pub(port, topic) for topic in load.lines]
    time.sleep(0.3)  # let every client connect before the clock starts
    start = time.monotonic()

    def feed(proc: subprocess.Popen[bytes], lines: list[bytes]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(b"\n".join(lines) + b"\n")
        proc.stdin.close()

    threads = [
        threading.Thread(target=feed, args=(p, load.lines[t]))
        for p, t in zip(procs, load.lines, strict=True)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for p in procs:
        p.wait(120)
    return start


def paced(port: int, load: Load, rate: float, sent_at: dict[str, float]) -> None:
    """Publish the load at ``rate`` events/s in total, recording each id's send time."""
    procs = {topic: mosquitto_pub(port, topic) for topic in load.lines}
    time.sleep(0.3)
    order = [
        (t, i)
        for i in range(max(len(v) for v in load.lines.values()))
        for t in load.lines
        if i < len(load.lines[t])
    ]
    start = time.monotonic()
    for k, (topic, i) in enumerate(order):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        stdin = procs[topic].stdin
        assert stdin is not None
        sent_at[load.ids[topic][i]] = time.monotonic()
        stdin.write(load.lines[topic][i] + b"\n")
        stdin.flush()
    for p in procs.values():
        assert p.stdin is not None
        p.stdin.close()
        p.wait(60)
