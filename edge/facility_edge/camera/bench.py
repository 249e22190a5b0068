"""``./scripts/bench qr``: QR decode time per 640x480 frame on one core, decode rate per condition.

The frames come from the simulated camera (:mod:`facility_sim.camera_source`, a
workspace package, imported here only: the board never runs the benchmark), each code
a real rotating staff code. Time per frame is the CPU time of :meth:`QrDecoder.decode`
on its thread (``time.thread_time``), OpenCV limited to one thread, after a short
warm-up: the cost on one core, unaffected by other processes sharing the machine; the
wall-clock figures are reported too (``wall_ms_*``). A code counts as read when the
decoder returned its exact text; the rate of a condition is codes read / codes shown
(a ``multiple`` frame shows 2..4). Empty frames (no code) are timed too, since most
frames a check-in camera sees are empty; they have no rate.
"""

from __future__ import annotations

import time
from typing import Any

import cv2

from facility_edge.camera.decoder import QrDecoder

#: A secret for the benchmark's codes (any 16+ bytes).
BENCH_SECRET = b"bench-secret-0123456789"


def _code(i: int) -> str:
    from facility_contracts import qr

    badge = f"{0x04A00000 + i * 7919:08X}"
    return qr.encode_rotating(badge, 58_800_000 + i, secret=BENCH_SECRET)


def _percentile(sorted_ms: list[float], p: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return round(sorted_ms[index], 2)


def _measure(decoder: QrDecoder, frames: list[Any]) -> dict[str, Any]:
    """Decode each frame once: CPU and wall ms per frame, codes shown and read per condition."""
    cpu_ms: list[float] = []
    wall_ms: list[float] = []
    by_condition: dict[str, list[float]] = {}
    shown: dict[str, int] = {}
    read: dict[str, int] = {}
    for frame in frames:
        wall, cpu = time.perf_counter(), time.thread_time()
        texts = decoder.decode(frame.image)
        cpu_ms.append((time.thread_time() - cpu) * 1000)
        wall_ms.append((time.perf_counter() - wall) * 1000)
        by_condition.setdefault(frame.condition, []).append(cpu_ms[-1])
        if frame.condition != "empty":
            shown[frame.condition] = shown.get(frame.condition, 0) + len(frame.expected)
            hits = len(set(texts) & set(frame.expected))
            read[frame.condition] = read.get(frame.condition, 0) + hits
    cpu_ms.sort()
    wall_ms.sort()
    return {
        "ms_per_frame_p50": _percentile(cpu_ms, 50),
        "ms_per_frame_p95": _percentile(cpu_ms, 95),
        "ms_per_frame_max": round(cpu_ms[-1], 2),
        "wall_ms_p50": _percentile(wall_ms, 50),
        "wall_ms_p95": _percentile(wall_ms, 95),
        "frames": len(frames),
        "decode_rate": {c: round(read[c] / shown[c], 3) for c in shown},
        "ms_p95_by_condition": {c: _percentile(sorted(v), 95) for c, v in by_condition.items()},
    }


def run(
    per_condition: int = 40, seed: int = 1, empty: int = 40, detector: str = "aruco"
) -> dict[str, Any]:
    """Decode the simulated camera set and measure.

    Args:
        per_condition: frames per condition (sharp, blur, dim, skewed, inverted, multiple).
        seed: seed of the set.
        empty: frames without a code, timed but not rated.
        detector: ``aruco`` or ``classic``.

    Returns:
        ``{"ms_per_frame_p50", "ms_per_frame_p95", "ms_per_frame_max", "wall_ms_p50",
        "wall_ms_p95", "frames", "decode_rate": {condition: rate 0..1},
        "ms_p95_by_condition", "detector", "opencv"}``; times in ms (nearest-rank
        percentiles over all frames, empty ones included).
    """
    import numpy as np
    from facility_sim.camera_source import camera_set, make_frame

    cv2.setNumThreads(1)
    frames = camera_set(_code, per_condition=per_condition, seed=seed)
    rng = np.random.default_rng(seed + 1)
    frames += [make_frame("empty", (), rng) for _ in range(empty)]
    decoder = QrDecoder(detector)
    for frame in frames[:5]:  # warm-up: first calls allocate
        decoder.decode(frame.image)
    return {**_measure(decoder, frames), "detector": detector, "opencv": cv2.__version__}
