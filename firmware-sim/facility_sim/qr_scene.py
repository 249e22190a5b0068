"""Image helpers of the simulated camera: QR symbols rendered with segno, placed in a scene.

All images are ``numpy`` arrays of ``uint8``: grey ``(H, W)`` while composing, BGR
``(H, W, 3)`` for frames (OpenCV's channel order). Coordinates are pixels, ``x`` right
and ``y`` down. Pure functions of their inputs (randomness only from the ``rng`` given).
"""

from __future__ import annotations

import cv2
import numpy as np
import segno

#: Quiet zone around a symbol, modules (ISO/IEC 18004 asks for 4).
QUIET_MODULES = 4
Quad = list[tuple[float, float]]


def render_code(text: str, module_px: int, *, inverted: bool = False) -> np.ndarray:
    """A QR symbol with its quiet zone, one module = ``module_px`` px.

    Error correction M at least; segno raises it while the symbol keeps its size.

    Args:
        text: the content (the alphanumeric set gives the smallest symbol).
        module_px: pixels per module (>= 1).
        inverted: light modules on a dark ground (a phone in dark mode, a negative print).

    Returns:
        Grey image, 0 for dark modules and 255 for light ones (swapped when inverted).
    """
    symbol = segno.make(text, error="m", micro=False)
    dark = np.array([list(row) for row in symbol.matrix], dtype=bool)
    dark = np.pad(dark, QUIET_MODULES, constant_values=False)
    img = np.where(dark, 0, 255).astype(np.uint8)
    img = np.kron(img, np.ones((module_px, module_px), dtype=np.uint8))
    return 255 - img if inverted else img


def background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A grey, softly textured wall (mean 120..180), ``(height, width)``."""
    mean = float(rng.uniform(120, 180))
    noise = rng.normal(mean, 25, (height, width)).clip(0, 255).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 3)


def square(x: float, y: float, size: float) -> Quad:
    """Corners (clockwise from top left) of an upright square."""
    return [(x, y), (x + size, y), (x + size, y + size), (x, y + size)]


def skew_quad(x: float, y: float, size: float, rng: np.random.Generator, amount: float) -> Quad:
    """A square at ``(x, y)`` with each corner moved inward by up to ``amount`` * size."""
    corners = square(x, y, size)
    centre = (x + size / 2, y + size / 2)
    out: Quad = []
    for cx, cy in corners:
        f = float(rng.uniform(0, amount))
        out.append((cx + (centre[0] - cx) * f * 2, cy + (centre[1] - cy) * f * 2))
    return out


def place(scene: np.ndarray, img: np.ndarray, quad: Quad) -> None:
    """Warp ``img`` onto ``quad`` of ``scene`` (in place, bilinear, perspective)."""
    h, w = img.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    matrix = cv2.getPerspectiveTransform(src, np.float32(quad))
    size = (scene.shape[1], scene.shape[0])
    warped = cv2.warpPerspective(img, matrix, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full_like(img, 255), matrix, size, flags=cv2.INTER_LINEAR)
    alpha = mask.astype(np.float32) / 255.0
    mixed = scene.astype(np.float32) * (1 - alpha) + warped.astype(np.float32) * alpha
    scene[:] = mixed.round().astype(np.uint8)


def blur(scene: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur (out of focus, motion), sigma in pixels."""
    return cv2.GaussianBlur(scene, (0, 0), sigma_px)


def dim(scene: np.ndarray, gain: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Low light: brightness times ``gain`` (0..1) plus sensor noise (sigma, grey levels)."""
    out = scene.astype(np.float32) * gain + rng.normal(0, noise, scene.shape)
    return out.clip(0, 255).astype(np.uint8)


def to_bgr(grey: np.ndarray) -> np.ndarray:
    """A 3-channel BGR frame of a grey image."""
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
