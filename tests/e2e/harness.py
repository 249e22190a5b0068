"""Run the pipeline's parts as real processes: sim -> pty -> edge -> Mosquitto -> gateway -> store.

Each part is started through the ``facility`` command exactly as an operator would, with
a YAML configuration written by the test. Expected values are computed from the CalIt2
file with the csv module, independently of the simulator.
"""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from facility_cli.vmexport import export

TZ = ZoneInfo("Asia/Shanghai")
FACILITY = [sys.executable, "-m", "facility_cli.main"]


class Part:
    """One ``facility ...`` child process with its log file; SIGKILL and restart."""

    def __init__(
        self, name: str, args: list[str], workdir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name, self.args, self.workdir, self.env = name, args, workdir, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Part:
        import os

        log = (self.workdir / f"{self.name}.log").open("ab")
        env = {**os.environ, **(self.env or {})}
        self.proc = subprocess.Popen(
            FACILITY + self.args, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        self.starts += 1
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return (self.workdir / f"{self.name}.log").read_text(errors="replace")


def edge_config(
    workdir: Path,
    *,
    site: str,
    port: int,
    link: Path,
    device: str = "dc-main",
    space: str = "culture-1",
    ack_timeout_s: float = 5,
    max_inflight: int = 500,
) -> Path:
    """Write an edge YAML for one door counter on ``link`` trusting the device clock."""
    path = workdir / "edge.yaml"
    path.write_text(
        f"agent: {{id: edge-1, site: {site}, data_dir: {workdir / 'edge-data'}}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {port}, keepalive_s: 5}}\n"
        f"outbox: {{max_inflight: {max_inflight}, ack_timeout_s: {ack_timeout_s}}}\n"
        "heartbeat_s: 5\n"
        f"devices:\n  - {{type: door_counter, id: {device}, space: {space}, port: '{link}', clock: device,"
        " max_rtc_skew_s: null}\n"
    )
    return path


def gateway_config(workdir: Path, *, index: int, port: int, vm_url: str, **extra: object) -> Path:
    """Write a gateway YAML in share group e2e writing to VictoriaMetrics."""
    path = workdir / f"gateway-{index}.yaml"
    lines = [
        f"mqtt_port: {port}",
        f"mqtt_client_id: e2e-gw-{index}",
        "mqtt_keepalive_s: 5",
        "share_group: e2e",
        "writer: influx",
        f"influx_url: {vm_url}",
        "influx_query: victoriametrics",
        f"dedupe_url: sqlite:///{workdir}/dedupe.sqlite",
        f"stats_file: {workdir}/gateway-{index}-stats.json",
        "stats_interval_s: 1",
        "claim_lease_s: 5",
        "retry_max_s: 2",
    ] + [f"{k}: {v}" for k, v in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


FILE_END = datetime(2005, 11, 6, tzinfo=TZ)


def weeks_to_now() -> int:
    """Whole weeks that move the CalIt2 file (ending 2005-11-06 local) to end before now."""
    return (datetime.now(TZ) - FILE_END).days // 7


def expected_from_csv(
    path: Path, first_day: str | None = None, days: int | None = None, shift_weeks: int = 0
) -> dict[str, Counter]:
    """Per-slot and per-day in/out from the CalIt2 file (flow 9 in, 7 out), local times,
    moved by ``shift_weeks`` whole weeks (a replay re-timed to the present).

    Returns {"slot": Counter[(iso_start, dir)], "day": Counter[(date, dir)], "total": Counter[dir]}.
    """
    slot: Counter = Counter()
    day: Counter = Counter()
    total: Counter = Counter()
    start = datetime.fromisoformat(first_day).date() if first_day else None
    with path.open(newline="") as fh:
        for row in csv.reader(fh):
            if not row:
                continue
            flow, date, hms, count = row
            local = datetime.strptime(f"{date} {hms}", "%m/%d/%y %H:%M:%S").replace(tzinfo=TZ)
            if start and (
                local.date() < start or (days and local.date() >= start + timedelta(days=days))
            ):
                continue
            direction = {"9": "in", "7": "out"}[flow]
            local += timedelta(weeks=shift_weeks)
            slot[(local.isoformat(), direction)] += int(count)
            day[(local.date().isoformat(), direction)] += int(count)
            total[direction] += int(count)
    return {"slot": slot, "day": day, "total": total}


def stored(vm_url: str, site: str) -> dict[str, object]:
    """Per-slot and per-day sums, sample count and unique count of door_crossing in VM."""
    slot: Counter = Counter()
    day: Counter = Counter()
    total: Counter = Counter()
    keys: Counter = Counter()
    for direction in ("in", "out"):
        for s in export(vm_url, f'{{__name__="door_crossing_{direction}",site="{site}"}}'):
            local = datetime.fromtimestamp(s.ts_ms / 1000, TZ)
            start = local.replace(minute=30 * (local.minute // 30), second=0, microsecond=0)
            slot[(start.isoformat(), direction)] += int(s.value)
            day[(local.date().isoformat(), direction)] += int(s.value)
            total[direction] += int(s.value)
    for s in export(vm_url, f'{{__name__="door_crossing_seq",site="{site}"}}'):
        keys[(s.label("device"), s.ts_ms, s.value)] += 1
    return {
        "slot": slot,
        "day": day,
        "total": total,
        "samples": sum(keys.values()),
        "unique": len(keys),
    }


def wait_until(predicate, timeout_s: float, every_s: float = 0.5) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it is true or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return bool(predicate())
