"""A simulated check-in camera: frames with real QR codes and their expected decodes.

Each :class:`CameraFrame` is a 640x480 BGR image (``numpy`` ``uint8``) showing QR
codes rendered with segno under one condition, with the texts a decoder should read:

==========  =====================================================================
condition   what the frame shows
==========  =====================================================================
sharp       one upright code, 5..8 px per module, anywhere in the frame
blur        one code, Gaussian blur of sigma 1.0..3.0 px (the strong end is hard)
dim         one code in low light: brightness x 0.08..0.3 plus sensor noise
skewed      one code seen at an angle: corners pulled in by up to 15 % (perspective)
inverted    one code printed light on dark (a phone in dark mode)
multiple    2..4 codes side by side, 4..5 px per module
==========  =====================================================================

``sharp`` and ``multiple`` frames are always readable by a correct decoder; the other
conditions range from easy to hard, so a benchmark's decode rate per condition means
something. :func:`camera_set` makes a seeded set; :func:`write_video` writes frames to
a video file (lossless FFV1 in Matroska by default) for the file-source path of the edge,
each frame held for ``hold`` video frames, as a code held in front of the camera.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facility_sim import qr_scene

CONDITIONS: tuple[str, ...] = ("sharp", "blur", "dim", "skewed", "inverted", "multiple")
WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True)
class CameraFrame:
    """One frame and what it shows.

    Attributes:
        image: BGR image, ``(480, 640, 3)`` ``uint8``.
        expected: the code texts in the frame (empty: no code).
        condition: one of :data:`CONDITIONS`, or ``empty``.
    """

    image: np.ndarray
    expected: tuple[str, ...]
    condition: str


def _one_code(text: str, rng: np.random.Generator, module_px: int, inverted: bool = False):  # type: ignore[no-untyped-def]
    """A grey scene with one upright code, and the code's size and position."""
    scene = qr_scene.background(WIDTH, HEIGHT, rng)
    img = qr_scene.render_code(text, module_px, inverted=inverted)
    size = img.shape[0]
    x = float(rng.uniform(4, WIDTH - size - 4))
    y = float(rng.uniform(4, HEIGHT - size - 4))
    return scene, img, (x, y, size)


def _single(condition: str, text: str, rng: np.random.Generator) -> np.ndarray:
    module = int(rng.integers(5, 9)) if condition != "blur" else int(rng.integers(6, 9))
    scene, img, (x, y, size) = _one_code(text, rng, module, inverted=condition == "inverted")
    quad = qr_scene.square(x, y, size)
    if condition == "skewed":
        quad = qr_scene.skew_quad(x, y, size, rng, 0.25)
    qr_scene.place(scene, img, quad)
    if condition == "blur":
        scene = qr_scene.blur(scene, float(rng.uniform(1.0, 4.0)))
    elif condition == "dim":
        scene = qr_scene.dim(scene, float(rng.uniform(0.05, 0.3)), float(rng.uniform(1, 5)), rng)
    return scene


def _multiple(texts: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """2..4 codes on a 3x2 grid of cells, each jittered inside its cell."""
    scene = qr_scene.background(WIDTH, HEIGHT, rng)
    cells = [(c, r) for r in range(2) for c in range(3)]
    order = rng.permutation(len(cells))
    cw, ch = WIDTH // 3, HEIGHT // 2
    for text, k in zip(texts, order, strict=False):
        img = qr_scene.render_code(text, int(rng.integers(4, 6)))
        size = img.shape[0]
        col, row = cells[int(k)]
        x = col * cw + float(rng.uniform(2, max(3, cw - size - 2)))
        y = row * ch + float(rng.uniform(2, max(3, ch - size - 2)))
        qr_scene.place(scene, img, qr_scene.square(x, y, size))
    return scene


def make_frame(condition: str, texts: Sequence[str], rng: np.random.Generator) -> CameraFrame:
    """One frame of ``condition`` showing ``texts`` (one text, or 2..4 for ``multiple``).

    Raises:
        ValueError: unknown condition, or a wrong number of texts for it.
    """
    if condition == "empty":
        scene = qr_scene.background(WIDTH, HEIGHT, rng)
        return CameraFrame(qr_scene.to_bgr(scene), (), condition)
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; use one of {CONDITIONS}")
    want = (2, 4) if condition == "multiple" else (1, 1)
    if not want[0] <= len(texts) <= want[1]:
        raise ValueError(f"{condition} shows {want[0]}..{want[1]} codes, got {len(texts)}")
    scene = _multiple(texts, rng) if condition == "multiple" else _single(condition, texts[0], rng)
    return CameraFrame(qr_scene.to_bgr(scene), tuple(texts), condition)


def camera_set(
    code_for: Callable[[int], str],
    *,
    per_condition: int = 20,
    seed: int = 0,
    conditions: Sequence[str] = CONDITIONS,
) -> list[CameraFrame]:
    """``per_condition`` frames of each condition; code ``i`` of the set is ``code_for(i)``.

    Every code in the set is different (``code_for`` is called with 0, 1, 2 ...), so a
    decode can be told apart from another frame's. Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    frames: list[CameraFrame] = []
    counter = 0
    for condition in conditions:
        for _ in range(per_condition):
            n = int(rng.integers(2, 5)) if condition == "multiple" else 1
            texts = [code_for(counter + i) for i in range(n)]
            counter += n
            frames.append(make_frame(condition, texts, rng))
    return frames


def write_video(
    frames: Sequence[CameraFrame], path: str | Path, *, fps: float = 10.0, hold: int = 1
) -> Path:
    """Write ``frames`` (each repeated ``hold`` times) to a video file.

    Lossless FFV1 for ``.mkv``/``.avi`` paths, else MJPEG. Also writes ``<path>.json``
    with each scene's expected texts and condition, in order.

    Raises:
        OSError: the writer cannot be opened for ``path``.
    """
    path = Path(path)
    codec = "FFV1" if path.suffix in (".mkv", ".avi") else "MJPG"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise OSError(f"cannot open a {codec} video writer for {path}")
    try:
        for frame in frames:
            for _ in range(hold):
                writer.write(frame.image)
    finally:
        writer.release()
    meta = [{"condition": f.condition, "expected": list(f.expected)} for f in frames]
    Path(f"{path}.json").write_text(json.dumps({"hold": hold, "fps": fps, "frames": meta}))
    return path
