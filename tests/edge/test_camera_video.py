"""The qr_camera device: video-file source, worker thread, agent wiring, lazy OpenCV import."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from edge_support import FakePublisher, wait_until
from facility_contracts import qr
from facility_contracts.envelope import CheckIn
from facility_edge.agent import Agent
from facility_edge.camera.device import QrCameraDevice
from facility_edge.camera.sources import MemorySource
from facility_edge.clock import SystemClock
from facility_edge.config import QrCameraConfig, parse_config
from facility_edge.outbox import MemoryOutbox
from facility_edge.recorder import Recorder
from facility_edge.status import DeviceStates
from facility_sim.camera_source import CameraFrame, make_frame, write_video

SECRET = "camera-video-secret-0123"  # noqa: S105 - test secret
A, B, C, D = "04A23B1C", "0040B83D", "04D2E1AA6F1E80", "E3086CED"


def now_code(badge: str) -> str:
    return qr.encode_rotating(badge, qr.time_step(time.time_ns() // 10**6), secret=SECRET)


def scenes() -> tuple[list[CameraFrame], list[int]]:
    """A, gap, B, C+D together, gap, A's same code again (a replay); frames and holds."""
    rng = np.random.default_rng(4)
    code_a = now_code(A)
    empty = make_frame("empty", (), rng)
    frames = [
        make_frame("sharp", [code_a], rng),
        empty,
        make_frame("skewed", [now_code(B)], rng),
        make_frame("multiple", [now_code(C), now_code(D)], rng),
        empty,
        make_frame("sharp", [code_a], rng),
    ]
    return frames, [8, 60, 8, 8, 60, 8]


def camera_config(source: str, **extra: object) -> QrCameraConfig:
    fields = {
        "type": "qr_camera",
        "id": "cam-1",
        "checkpoint": "kp-toys",
        "space": "kids-play",
        "task": "patrol",
        "source": source,
        "secret": SECRET,
        "decode_hz": 60,
        "hold_s": 0.3,
        **extra,
    }
    return QrCameraConfig(**fields)  # type: ignore[arg-type]


def checkins(outbox: MemoryOutbox) -> list[CheckIn]:
    return [e for e in outbox.pending(10**6, 0) if isinstance(e, CheckIn)]


def test_memory_source_worker_checks_in_each_presentation_once() -> None:
    """Codes held for several frames give one check-in each; a replayed code gives none."""
    frames, holds = scenes()
    images = [f.image for f, n in zip(frames, holds, strict=True) for _ in range(n)]
    outbox, states = MemoryOutbox(), DeviceStates()
    rec = Recorder(outbox, SystemClock(), agent_id="edge-1")
    device = QrCameraDevice(
        camera_config("memory"), rec, states, open_frames=lambda: MemorySource(images)
    )
    device.start()
    try:
        wait_until(lambda: device.counts["frames"] >= len(images), timeout=30)
    finally:
        device.stop()
    got = [(e.body.badge, e.body.method, e.body.proof, e.body.task) for e in checkins(outbox)]
    assert got == [(b, "qr", "rotating_qr", "patrol") for b in (A, B, C, D)]
    assert device.gate.counts["replay"] >= 1


def test_video_file_source_through_agent(tmp_path: Path) -> None:
    """An agent configured with a qr_camera on a video file publishes its check-ins."""
    frames, _ = scenes()
    video = write_video(frames[:4], tmp_path / "codes.mkv", fps=10, hold=8)
    cfg = parse_config(
        {
            "agent": {"id": "edge-1", "site": "s1", "data_dir": str(tmp_path)},
            "mqtt": {"host": "127.0.0.1", "port": 1},
            "devices": [camera_config(str(video)).model_dump(mode="json") | {"secret": SECRET}],
        }
    )
    pub = FakePublisher()
    agent = Agent(cfg, outbox=MemoryOutbox(), publisher=pub)
    agent.start()
    try:
        wait_until(lambda: agent.states.snapshot().get("cam-1") == "ended", timeout=30)
        agent.tick()
    finally:
        agent.shutdown(flush_s=0)
    assert sorted(e.body.badge for e in pub.events() if isinstance(e, CheckIn)) == sorted(
        [A, B, C, D]
    )


def test_missing_source_retries_until_it_appears(tmp_path: Path) -> None:
    """A source that cannot be opened leaves the worker retrying, not stopped."""
    frames, _ = scenes()
    path = tmp_path / "later.mkv"
    outbox, states = MemoryOutbox(), DeviceStates()
    rec = Recorder(outbox, SystemClock(), agent_id="edge-1")
    device = QrCameraDevice(camera_config(str(path)), rec, states)
    device.start()
    try:
        wait_until(lambda: states.snapshot().get("cam-1") == "disconnected", timeout=10)
        write_video(frames[:1], path, hold=4)
        wait_until(lambda: states.snapshot().get("cam-1") == "ended", timeout=15)
    finally:
        device.stop()
    assert [e.body.badge for e in checkins(outbox)] == [A]


@pytest.mark.parametrize("bad", [np.zeros((3,), np.uint8), np.zeros((2, 2, 7), np.float64), "x"])
def test_bad_frames_never_raise(bad: object) -> None:
    """A frame of the wrong shape or type is counted and skipped."""
    rec = Recorder(MemoryOutbox(), SystemClock(), agent_id="edge-1")
    device = QrCameraDevice(camera_config("none"), rec, DeviceStates())
    device.process(bad)
    assert device.counts["bad_frame"] == 1


AGENT_WITHOUT_CAMERA = """
import sys
from facility_edge.agent import Agent
from facility_edge.config import parse_config
from facility_edge.outbox import MemoryOutbox

class Pub:
    def start(self, on_connect, on_message): pass
    def stop(self, goodbye=None, timeout_s=2.0): pass
    def connected(self): return False
    def subscribe(self, topics): pass
    def publish(self, message): return False

cfg = parse_config({
    "agent": {"id": "edge-1", "site": "s1", "data_dir": sys.argv[1]},
    "mqtt": {},
    "devices": [
        {"type": "rfid_reader", "id": "ct-1", "checkpoint": "kp-1", "space": "kids",
         "task": "patrol", "port": sys.argv[1] + "/missing-tty"},
        {"type": "door_counter", "id": "dc-1", "space": "hall", "port": "loop://"},
    ],
})
agent = Agent(cfg, outbox=MemoryOutbox(), publisher=Pub())
agent.start()
print("cv2" in sys.modules, "numpy" in sys.modules)
agent.shutdown(flush_s=0)
"""


def test_agent_without_camera_never_imports_opencv(tmp_path: Path) -> None:
    """An agent with RFID readers and door counters but no camera has no cv2 (nor numpy)."""
    done = subprocess.run(
        [sys.executable, "-c", AGENT_WITHOUT_CAMERA, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
