"""The simulated camera: rendered QR symbols, frames per condition, video files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno
from facility_sim import qr_scene
from facility_sim.camera_source import CONDITIONS, camera_set, make_frame, write_video


def code(i: int) -> str:
    return f"FO1S:{0x04C00000 + i:08X}:" + "A" * 26


def test_render_code_matches_segno_matrix() -> None:
    """Each module's centre pixel is dark exactly where segno's matrix is dark (and inverted)."""
    text, module = code(1), 5
    matrix = np.array([list(r) for r in segno.make(text, error="m").matrix], dtype=bool)
    for inverted in (False, True):
        img = qr_scene.render_code(text, module, inverted=inverted)
        n = matrix.shape[0] + 2 * qr_scene.QUIET_MODULES
        assert img.shape == (n * module, n * module)
        centres = img[module // 2 :: module, module // 2 :: module]
        q = qr_scene.QUIET_MODULES
        dark = centres[q:-q, q:-q] < 128
        assert np.array_equal(dark, ~matrix if inverted else matrix)
        assert (centres[:q] >= 128).all() != inverted  # the quiet zone is light (dark inverted)


def test_camera_set_shapes_and_expectations() -> None:
    """Frames are 640x480 BGR uint8; each condition has its count; codes are all distinct."""
    frames = camera_set(code, per_condition=3, seed=2)
    assert [f.condition for f in frames] == [c for c in CONDITIONS for _ in range(3)]
    for f in frames:
        assert f.image.shape == (480, 640, 3) and f.image.dtype == np.uint8
        assert len(f.expected) == 1 or (f.condition == "multiple" and 2 <= len(f.expected) <= 4)
    texts = [t for f in frames for t in f.expected]
    assert len(texts) == len(set(texts))


def test_camera_set_is_deterministic() -> None:
    """The same seed renders the same pixels; another seed other pixels."""
    a = camera_set(code, per_condition=2, seed=9, conditions=("blur", "dim"))
    b = camera_set(code, per_condition=2, seed=9, conditions=("blur", "dim"))
    c = camera_set(code, per_condition=2, seed=10, conditions=("blur", "dim"))
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0].image, c[0].image)


def test_conditions_change_the_image_as_named() -> None:
    """Dim frames are darker than sharp ones; inverted codes are light on dark."""
    sharp = camera_set(code, per_condition=5, seed=1, conditions=("sharp",))
    dim = camera_set(code, per_condition=5, seed=1, conditions=("dim",))
    assert max(f.image.mean() for f in dim) < 0.5 * min(f.image.mean() for f in sharp)


def test_sharp_frames_read_by_opencv_classic_detector() -> None:
    """An independent decoder (OpenCV's classic detector) reads every sharp frame's code."""
    detector = cv2.QRCodeDetector()
    for frame in camera_set(code, per_condition=6, seed=4, conditions=("sharp",)):
        text, _, _ = detector.detectAndDecode(frame.image)
        assert (text,) == frame.expected


def test_write_video_round_trip(tmp_path: Path) -> None:
    """A lossless video holds each frame `hold` times with its pixels; a JSON lists the codes."""
    frames = camera_set(code, per_condition=1, seed=3, conditions=("sharp", "multiple"))
    path = write_video(frames, tmp_path / "set.mkv", fps=5, hold=3)
    cap = cv2.VideoCapture(str(path))
    read = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        read.append(image)
    cap.release()
    assert len(read) == 6
    for i, image in enumerate(read):
        diff = np.abs(image.astype(int) - frames[i // 3].image.astype(int))
        assert diff.max() <= 2
    meta = json.loads(Path(f"{path}.json").read_text())
    assert [m["expected"] for m in meta["frames"]] == [list(f.expected) for f in frames]


def test_bad_requests_rejected() -> None:
    """An unknown condition or a wrong number of codes raises ValueError."""
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        make_frame("foggy", [code(0)], rng)
    with pytest.raises(ValueError):
        make_frame("multiple", [code(0)], rng)
    with pytest.raises(ValueError):
        make_frame("sharp", [code(0), code(1)], rng)


def test_cli_camera_video_writes_video_and_expectations(tmp_path: Path) -> None:
    """`facility sim camera-video` writes a video and a JSON of valid rotating codes."""
    from facility_contracts import qr
    from facility_sim.cli import app
    from typer.testing import CliRunner

    out = tmp_path / "scenes.mkv"
    secret = "cli-secret-0123456789"  # noqa: S105 - test secret
    result = CliRunner().invoke(
        app,
        [
            "camera-video",
            "--out",
            str(out),
            "--secret",
            secret,
            "--per-condition",
            "1",
            "--hold",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    meta = json.loads(Path(f"{out}.json").read_text())
    assert [m["condition"] for m in meta["frames"]] == list(CONDITIONS)
    first = meta["frames"][0]["expected"][0]
    assert qr.verify(first, secret=secret, now_ms=time_ms()).proof == "rotating_qr"
    bad = CliRunner().invoke(app, ["camera-video", "--out", str(out), "--secret", "short"])
    assert bad.exit_code == 2


def time_ms() -> int:
    import time

    return time.time_ns() // 10**6
