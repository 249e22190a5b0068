"""Helpers for the gateway tests: a fake edge, VictoriaMetrics sample counts, a gateway
process. Expected values in the tests are computed here from first principles, never
by the gateway's own code."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from facility_contracts import codec, topics
from facility_contracts.envelope import (
    DeviceNotice,
    DeviceNoticeBody,
    DoorCrossing,
    DoorCrossingBody,
    Event,
)
from paho.mqtt.enums import CallbackAPIVersion


def now_ms() -> int:
    """Wall clock, UTC epoch ms."""
    return time.time_ns() // 1_000_000


def door_event(
    device: str,
    seq: int,
    *,
    ts: int | None = None,
    synced: bool = True,
    space: str = "hall",
    n_in: int = 1,
    n_out: int = 0,
    mono: int | None = None,
    sent: int | None = None,
    event_id: str | None = None,
) -> DoorCrossing:
    """A door.crossing event with a fresh UUID id."""
    return DoorCrossing(
        id=event_id or str(uuid.uuid4()),
        device=device,
        boot="boot-1",
        seq=seq,
        ts=now_ms() if ts is None else ts,
        mono=seq * 10 if mono is None else mono,
        synced=synced,
        sent=sent,
        body=DoorCrossingBody(in_=n_in, out=n_out, space=space),
    )


def notice_event(device: str, seq: int, code: str = "power_cycle", **kw: Any) -> DeviceNotice:
    """A device.notice event."""
    return DeviceNotice(
        id=str(uuid.uuid4()),
        device=device,
        boot="boot-1",
        seq=seq,
        ts=kw.get("ts", now_ms()),
        mono=seq,
        synced=kw.get("synced", True),
        body=DeviceNoticeBody(code=code),
    )  # type: ignore[arg-type]


class FakeEdge:
    """Plays the edge agent: publishes events at QoS 1, listens for acks, resends.

    Args:
        port: broker port on 127.0.0.1.
        site: site id of every event.
    """

    def __init__(self, port: int, site: str) -> None:
        self.site = site
        self.acked: set[str] = set()
        self.ack_messages = 0
        self.pending: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"edge-{uuid.uuid4().hex[:8]}"
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.on_message = self._on_ack
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topics.subscription("ack", site=site), qos=1)
        self.client.loop_start()

    def _on_ack(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        ack = codec.decode_ack(msg.payload)
        with self._lock:
            self.ack_messages += 1
            self.acked.update(ack.ids)
            for i in ack.ids:
                self.pending.pop(i, None)

    def publish_raw(self, device: str, payload: bytes, channel: str = "evt") -> None:
        """Publish a payload as-is on the device's topic (QoS 1)."""
        self.client.publish(topics.topic(self.site, device, channel), payload, qos=1)  # type: ignore[arg-type]

    def send(self, events: Iterable[Event], *, throttle: int = 2000) -> None:
        """Publish events (remembered until acked); throttled to keep paho's ids unique."""
        infos = []
        for ev in events:
            topic, payload = topics.event_topic(self.site, ev.device), codec.encode_event(ev)
            with self._lock:
                self.pending[ev.id] = (topic, payload)
            infos.append(self.client.publish(topic, payload, qos=1))
            if len(infos) >= throttle:
                infos[-1].wait_for_publish(30)
                infos.clear()
        if infos:
            infos[-1].wait_for_publish(30)

    def resend(self) -> int:
        """Send every unconfirmed event again; returns how many."""
        with self._lock:
            items = list(self.pending.values())
        for start in range(0, len(items), 2000):
            infos = [self.client.publish(t, p, qos=1) for t, p in items[start : start + 2000]]
            infos[-1].wait_for_publish(30)
        return len(items)

    def wait_acked(self, ids: Iterable[str], timeout_s: float, resend_every_s: float = 3.0) -> bool:
        """Wait until all ``ids`` are acked, resending the unconfirmed ones periodically."""
        wanted = set(ids)
        deadline = time.monotonic() + timeout_s
        next_resend = time.monotonic() + resend_every_s
        while time.monotonic() < deadline:
            with self._lock:
                if wanted <= self.acked:
                    return True
            if time.monotonic() >= next_resend:
                self.resend()
                next_resend = time.monotonic() + resend_every_s
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def vm_export(url: str, match: str) -> list[dict[str, Any]]:
    """All raw samples matching a series selector (VictoriaMetrics /api/v1/export) from two
    days ago to one day ahead. With a time range VictoriaMetrics looks series up in its
    per-day index, which sees new series at once after a flush (the global one lags)."""
    with urllib.request.urlopen(f"{url}/internal/force_flush", timeout=10):  # noqa: S310 - loopback
        pass
    now_s = time.time()
    data = urllib.parse.urlencode(
        {"match[]": match, "start": str(int(now_s - 2 * 86400)), "end": str(int(now_s + 86400))}
    ).encode()
    with urllib.request.urlopen(f"{url}/api/v1/export", data=data, timeout=10) as resp:  # noqa: S310 - loopback
        return [json.loads(line) for line in resp.read().splitlines() if line.strip()]


def vm_seqs(url: str, site: str, metric: str = "door_crossing_seq") -> list[int]:
    """Every stored sample value of ``metric`` for ``site`` (duplicates kept)."""
    rows = vm_export(url, f'{{__name__="{metric}",site="{site}"}}')
    return [int(v) for row in rows for v in row["values"]]


def vm_wait_count(
    url: str,
    site: str,
    expected: int,
    timeout_s: float = 15.0,
    settle_s: float = 1.5,
    metric: str = "door_crossing_seq",
) -> list[int]:
    """Wait until ``expected`` samples are visible, then ``settle_s`` more so late
    duplicates would show too; returns the samples."""
    deadline = time.monotonic() + timeout_s
    values = vm_seqs(url, site, metric)
    while len(values) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        values = vm_seqs(url, site, metric)
    time.sleep(settle_s)
    return vm_seqs(url, site, metric)


def gateway_config(path: Path, **settings: Any) -> Path:
    """Write a YAML settings file for a gateway process."""
    path.write_text(
        yaml.safe_dump({k: (str(v) if isinstance(v, Path) else v) for k, v in settings.items()})
    )
    return path


class GatewayProcess:
    """``python -m facility_gateway run --config FILE`` as a child process."""

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.config, self.log_path, self.env = config, log, env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GatewayProcess:
        env = {**os.environ, **self.env}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "facility_gateway", "run", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # so kill() can take its pipeline process too
            )
        return self

    def wait_log(self, text: str, timeout_s: float = 20.0) -> None:
        """Wait until the log contains ``text``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.log_path.read_text(errors="replace"):
                return
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in gateway log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL the gateway and its pipeline process (its whole process group)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)
