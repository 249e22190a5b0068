"""``facility bench ingest``: gateway throughput and latency on real Mosquitto and VictoriaMetrics.

In one run on this machine:

(a) the floor: a bare paho subscriber (QoS 1, persistent session, its own process) on a
    fresh Mosquitto receiving the same pre-encoded events;
(b) the gateway's sustained rate end to end, through decoding, dedupe, the InfluxDB write
    API (VictoriaMetrics) and acks;
(c) latency device -> stored (confirmation received) at a paced rate.

Sustained rates are measured on a backlog, so that the publishers' own CPU cost (they
share this 2-core machine) is not in the figure: the consumer (bare subscriber, or every
gateway process) is frozen with SIGSTOP, the events are published and queue in Mosquitto
for its connected session, then the consumer is thawed with SIGCONT and timed from then
to its last message (a) or last confirmation (b). Lost and duplicated points are counted
from VictoriaMetrics' raw samples.

The floor is paho-mqtt's own client, as the issue defines it. The gateway receives with
:class:`facility_gateway.pahoclient.FastClient` (paho's protocol logic, fewer system calls
per message), so ``ratio`` can exceed 1.

Rates on a shared machine move with whatever else runs; the CPU time the consumers
spend over the same drain does not, much. So the figures also give CPU ms per 1,000
events of the bare subscriber (``raw_paho_cpu_ms_per_1000``) and of all the gateway's
processes (``gateway_cpu_ms_per_1000``; both processes of a split gateway), and the load
average when the run started.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from facility_contracts import topics
from facility_contracts.codec import decode_ack

from facility_cli.loadgen import Load, blast, make_load, paced
from facility_cli.services import Mosquitto, VictoriaMetrics
from facility_cli.vmexport import export


def _client(client_id: str, clean: bool) -> mqtt.Client:
    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)


def _floor_subscriber(port: int, n: int, ready: Any, out: Any) -> None:
    got = 0
    done = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        nonlocal got
        got += 1
        if got == n:
            done.set()

    c = _client("floor-sub", clean=False)
    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.subscribe(topics.subscription("evt"), qos=1)
    c.loop_start()
    ready.set()
    done.wait(600)
    out.send((got, time.monotonic()))
    c.loop_stop()


def cpu_s(procs: list[psutil.Process]) -> float:
    """User plus system CPU time of ``procs`` and all their descendants, s."""
    total = 0.0
    for proc in procs:
        for p in [proc, *proc.children(recursive=True)]:
            try:
                times = p.cpu_times()
            except psutil.Error:
                continue  # ended meanwhile
            total += times.user + times.system
    return total


def floor_rate(port: int, load: Load) -> tuple[float, float]:
    """Events/s a bare paho subscriber drains from a backlog (SIGCONT to last message),
    and the CPU time it spent on it, s."""
    ctx = mp.get_context("spawn")
    ready, (recv, send) = ctx.Event(), ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_floor_subscriber, args=(port, load.count, ready, send))
    proc.start()
    ready.wait(30)
    time.sleep(0.5)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGSTOP)
    blast(port, load)
    watched = [psutil.Process(proc.pid)]
    cpu0 = cpu_s(watched)
    start = time.monotonic()
    os.kill(proc.pid, signal.SIGCONT)
    got, end = recv.recv()
    cpu = cpu_s(watched) - cpu0
    proc.join(30)
    if got != load.count:
        raise RuntimeError(f"floor subscriber got {got} of {load.count}")
    return load.count / (end - start), cpu


class AckWatcher:
    """Records when each event id is confirmed on any ack topic (monotonic s)."""

    def __init__(self, port: int) -> None:
        self.at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._client = _client("bench-acks", clean=True)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(topics.subscription("ack"), qos=1)
        self._client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        ids = decode_ack(msg.payload).ids
        with self._lock:
            for i in ids:
                self.at.setdefault(i, now)

    def wait(self, ids: list[str], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if all(i in self.at for i in ids):
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def start_gateways(
    n: int, broker: Mosquitto, vm: VictoriaMetrics, work: Path
) -> list[subprocess.Popen[bytes]]:
    """``n`` gateway processes in one shared-subscription group writing to ``vm``."""
    procs = []
    for i in range(n):
        cfg = work / f"gateway-{i}.yaml"
        cfg.write_text(
            f"mqtt_port: {broker.port}\nmqtt_client_id: bench-gw-{i}\nshare_group: bench\n"
            f"writer: influx\ninflux_url: {vm.url}\ninflux_query: victoriametrics\n"
            f"dedupe_url: sqlite:///{work}/dedupe.sqlite\nstats_file: {work}/stats-{i}.json\n"
            "log_level: WARNING\nqueue_max: 100000\nstats_interval_s: 0.5\n"
        )
        log = (work / f"gateway-{i}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "facility_cli.main", "gateway", "run", "--config", str(cfg)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    _wait_ready(broker.port, [work / f"stats-{i}.json" for i in range(n)])
    return procs


def _wait_ready(port: int, stats_files: list[Path], timeout_s: float = 60.0) -> None:
    """Publish probe events until every gateway has accepted one (it is subscribed)."""
    import json

    probe = _client("bench-probe", clean=True)
    probe.connect("127.0.0.1", port)
    probe.loop_start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for line in make_load(len(stats_files), 1, site="probe").lines.values():
                for payload in line:
                    probe.publish(topics.event_topic("probe", "dc-000"), payload, qos=1)
            time.sleep(0.5)
            ready = [
                f.exists() and json.loads(f.read_text()).get("accepted", 0) > 0 for f in stats_files
            ]
            if all(ready):
                return
        raise RuntimeError("gateways did not become ready (no probe event accepted)")
    finally:
        probe.loop_stop()
        probe.disconnect()


def stored_counts(vm: VictoriaMetrics, sites: list[str], expected: int) -> tuple[int, int]:
    """(lost, duplicates) of door_crossing points for ``sites`` in VictoriaMetrics."""
    sel = '{__name__="door_crossing_seq",site=~"' + "|".join(sites) + '"}'
    samples = list(export(vm.url, sel))
    unique = {(s.label("device"), s.ts_ms, s.value) for s in samples}
    return expected - len(unique), len(samples) - len(unique)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def run(
    *, events: int, devices: int, gateways: int, latency_rate: float, latency_s: float
) -> dict[str, Any]:
    """Run (a), (b) and (c); return the figures."""
    work = Path(tempfile.mkdtemp(prefix="fo-bench-ingest-"))
    load_avg = os.getloadavg()[0]
    with Mosquitto(persistence=False) as fb:
        raw, raw_cpu = floor_rate(fb.port, make_load(events, devices, site="floor"))
    with Mosquitto(persistence=False) as broker, VictoriaMetrics() as vm:
        procs = start_gateways(gateways, broker, vm, work)
        acks = AckWatcher(broker.port)
        try:
            load = make_load(events, devices, site="bench")
            all_ids = [i for ids in load.ids.values() for i in ids]
            for p in procs:  # freeze every gateway process (its process group)
                os.killpg(p.pid, signal.SIGSTOP)
            blast(broker.port, load)
            watched = [psutil.Process(p.pid) for p in procs]
            cpu0 = cpu_s(watched)
            start = time.monotonic()
            for p in procs:
                os.killpg(p.pid, signal.SIGCONT)
            if not acks.wait(all_ids, 600):
                raise RuntimeError(
                    f"only {sum(i in acks.at for i in all_ids)} of {events} confirmed"
                )
            gw_cpu = cpu_s(watched) - cpu0
            rate = events / (max(acks.at[i] for i in all_ids) - start)
            lat_load = make_load(int(latency_rate * latency_s), devices, site="latency")
            sent: dict[str, float] = {}
            paced(broker.port, lat_load, latency_rate, sent)
            lat_ids = list(sent)
            acks.wait(lat_ids, 120)
            lat_ms = [(acks.at[i] - sent[i]) * 1000 for i in lat_ids if i in acks.at]
            lost, dups = stored_counts(vm, ["bench", "latency"], events + lat_load.count)
        finally:
            acks.close()
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(30)
    return {
        "events_per_s": round(rate, 1),
        "raw_paho_events_per_s": round(raw, 1),
        "ratio": round(rate / raw, 3),
        "p50_ms": round(_pct(lat_ms, 0.5), 1),
        "p99_ms": round(_pct(lat_ms, 0.99), 1),
        "lost": lost,
        "duplicates": dups,
        "raw_paho_cpu_ms_per_1000": round(raw_cpu * 1e6 / events, 1),
        "gateway_cpu_ms_per_1000": round(gw_cpu * 1e6 / events, 1),
        "load_average_1m": round(load_avg, 2),
        "events": events,
        "latency_events": lat_load.count,
        "gateways": gateways,
        "devices": devices,
    }
