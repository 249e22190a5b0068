"""Decode every QR code in one camera frame with OpenCV.

OpenCV offers two detectors with the same interface (``detectAndDecodeMulti``, several
codes per frame): the classic ``cv2.QRCodeDetector`` (finder patterns by contour
analysis) and ``cv2.QRCodeDetectorAruco`` (finder patterns found with the ArUco marker
detector, OpenCV >= 4.8). On the simulated 640x480 set (OpenCV 5.0, one thread) the
ArUco one took about half the time (p50 8.6 against 15.4 ms) and read the dim frames
the classic one missed; neither reads inverted codes. Its adaptive-threshold windows
are set to 7 and 17 px (:data:`THRESH_WINDOWS`; OpenCV's 3, 13, 23 cost a third more
detection time and read fewer blurred codes here).

:class:`QrDecoder` locates symbols with the ArUco detector on the grey frame and
decodes each on its own region (OpenCV's decode works on the whole image it is given:
about 6 ms a symbol on the frame, 2 on the region), and:

- retries each symbol that was located but not read on a 2x enlarged crop (small or
  soft modules; at most :data:`MAX_CROPS` per pass);
- when nothing was read nor located, tries the inverted frame (codes light on dark,
  phones in dark mode);
- when still nothing was read, tries an unsharp-masked frame (blur).

CPU time on one core here: an empty frame (three cheap passes) about 3-5 ms, a sharp
one-code frame about 8 ms, a frame with four codes 15-25 ms, an unreadable blurred
frame up to about 45 ms (every fallback tried).
``cv2.error`` raised inside OpenCV (its multi-detector can assert on odd point sets)
counts as "nothing read" for that pass.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import cv2
import numpy as np

logger = logging.getLogger(__name__)


#: ArUco adaptive-threshold windows: 7 and 17 px (OpenCV's default 3, 13, 23 costs a
#: third more and read fewer blurred codes on the simulated set).
THRESH_WINDOWS = (7, 17, 10)
#: Scale of the crop retry of a located but unread symbol.
CROP_SCALE = 2.0
#: Most crop retries per pass (a blurred frame can yield many candidate quads).
MAX_CROPS = 4
#: Most symbols decoded per pass (bounds the time of a frame full of codes).
MAX_SYMBOLS = 8


def make_detector(kind: str = "aruco") -> Any:
    """A fresh OpenCV QR detector: ``aruco`` (default, tuned) or ``classic``."""
    if kind == "aruco":
        detector = cv2.QRCodeDetectorAruco()
        params = detector.getArucoParameters()
        lo, hi, step = THRESH_WINDOWS
        params.adaptiveThreshWinSizeMin = lo
        params.adaptiveThreshWinSizeMax = hi
        params.adaptiveThreshWinSizeStep = step
        detector.setArucoParameters(params)
        return detector
    if kind == "classic":
        return cv2.QRCodeDetector()
    raise ValueError(f"unknown detector {kind!r}; use aruco or classic")


def region(grey: np.ndarray, quad: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``grey`` around ``quad`` (4x2 corners, px) with a margin of ``rate`` x
    its size + 4 px, and the quad in the part's coordinates."""
    (x0, y0), (x1, y1) = quad.min(axis=0), quad.max(axis=0)
    margin = rate * max(x1 - x0, y1 - y0) + 4
    h, w = grey.shape[:2]
    xa, ya = int(max(0, x0 - margin)), int(max(0, y0 - margin))
    xb, yb = int(min(w, x1 + margin + 1)), int(min(h, y1 + margin + 1))
    part = np.ascontiguousarray(grey[ya:yb, xa:xb])
    return part, (quad - np.array([xa, ya], dtype=np.float32)).astype(np.float32)


def crop(grey: np.ndarray, quad: np.ndarray, scale: float = CROP_SCALE) -> np.ndarray:
    """The region of ``quad`` with a wide margin, enlarged ``scale`` times (bicubic)."""
    part, _ = region(grey, quad, 0.15)
    return cv2.resize(part, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


def sharpen(grey: np.ndarray) -> np.ndarray:
    """Unsharp mask: 2 * frame - Gaussian(frame, sigma 2 px)."""
    soft = cv2.GaussianBlur(grey, (0, 0), 2.0)
    return cv2.addWeighted(grey, 2.0, soft, -1.0, 0)


class QrDecoder:
    """Decode all QR codes of a frame (one instance per thread; OpenCV objects are not shared).

    Args:
        detector: ``aruco`` or ``classic`` (see the module docstring).
        fallbacks: retry unread symbols on a crop, then try the inverted and the
            sharpened frame when nothing was read.

    Attributes:
        counts: frames read by each pass (``plain``, ``inverted``, ``sharpened``),
            symbols read by a crop retry (``crop``), OpenCV errors (``errors``).
    """

    def __init__(self, detector: str = "aruco", *, fallbacks: bool = True) -> None:
        self._detector = make_detector(detector)
        self.fallbacks = fallbacks
        self.counts: Counter[str] = Counter()

    def _pass(self, grey: np.ndarray) -> tuple[list[str], bool]:
        """(texts, located anything) of one pass, with a crop retry of each unread symbol.

        Symbols are located on the whole frame, then each is decoded on its own region:
        OpenCV's decode costs about 6 ms a symbol on a 640x480 frame, 2 on the region.
        """
        try:
            found, points = self._detector.detectMulti(grey)
        except cv2.error as exc:
            self.counts["errors"] += 1
            logger.debug("QR detector failed on a frame: %s", exc)
            return [], False
        if not found or points is None or not len(points):
            return [], False
        out: list[str] = []
        retries = MAX_CROPS if self.fallbacks else 0
        for quad in points[:MAX_SYMBOLS]:
            part, local = region(grey, quad, 0.1)
            text = self._decode_at(part, local)
            if not text and retries > 0:
                retries -= 1
                text = self._single(crop(grey, quad))
                self.counts["crop"] += bool(text)
            if text:
                out.append(text)
        return out, True

    def _decode_at(self, part: np.ndarray, quad: np.ndarray) -> str:
        try:
            text, _straight = self._detector.decode(part, quad.reshape(1, 4, 2))
        except cv2.error:
            self.counts["errors"] += 1
            return ""
        return str(text or "")

    def _single(self, grey: np.ndarray) -> str:
        try:
            text, _points, _ = self._detector.detectAndDecode(grey)
        except cv2.error:
            self.counts["errors"] += 1
            return ""
        return str(text or "")

    def decode(self, frame: np.ndarray) -> list[str]:
        """The distinct texts of the QR codes in ``frame`` (BGR or grey ``uint8``), in order.

        Raises:
            ValueError: ``frame`` is not a ``uint8`` image of shape (H, W) or (H, W, 3).
        """
        shape: tuple[int, ...] = tuple(getattr(frame, "shape", ()))
        if getattr(frame, "dtype", None) != np.uint8 or not (
            len(shape) == 2 or (len(shape) == 3 and shape[2] == 3)
        ):
            raise ValueError(f"not a uint8 grey or BGR image: shape {shape}")
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        (texts, located), label = self._pass(grey), "plain"
        if not texts and not located and self.fallbacks:
            (texts, located), label = self._pass(cv2.bitwise_not(grey)), "inverted"
        if not texts and self.fallbacks:
            texts, label = self._pass(sharpen(grey))[0], "sharpened"
        if texts:
            self.counts[label] += 1
        return list(dict.fromkeys(texts))
