"""Where frames come from: the :class:`FrameSource` seam and its implementations.

- :class:`CaptureSource`: ``cv2.VideoCapture`` on a V4L2 device (``/dev/video0`` or an
  index ``"0"``), an RTSP/HTTP URL (FFmpeg backend) or a video file. A live source
  (device, URL) is read continuously by a grabber thread that keeps only the newest
  frame (:class:`LatestFrame`), so decoding at a few frames per second never works on
  stale, buffered frames and an RTSP stream is never left unread. A file is read frame
  by frame in order, one frame per decode, optionally from the start again (``loop``).
- :class:`MemorySource`: frames from a list, for tests and benchmarks.

``read()`` returns ``None`` when the source has nothing more (end of a file, a camera
unplugged, a stream dropped); the caller closes it and opens a new one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Protocol

import cv2
import numpy as np

logger = logging.getLogger(__name__)

#: Seconds a live source may go without a new frame before read() gives up.
STALL_S = 5.0


class FrameSource(Protocol):
    """A stream of frames (BGR ``uint8`` arrays)."""

    live: bool

    def read(self) -> np.ndarray | None:
        """The next frame, or None when the source has ended or failed."""
        ...

    def close(self) -> None:
        """Release the device, stream or file."""
        ...


def _capture_args(spec: str) -> tuple[str | int, int]:
    """``VideoCapture`` arguments for a source spec: (target, backend)."""
    if spec.isdigit():
        return int(spec), cv2.CAP_V4L2
    if spec.startswith("/dev/video"):
        return spec, cv2.CAP_V4L2
    if "://" in spec:
        return spec, cv2.CAP_FFMPEG
    return spec, cv2.CAP_ANY


def is_live(spec: str) -> bool:
    """True for a camera device or a stream URL, False for a file."""
    return spec.isdigit() or spec.startswith("/dev/") or "://" in spec


class CaptureSource:
    """A ``cv2.VideoCapture`` source.

    Args:
        spec: device path or index, URL, or file path.
        width, height: capture size asked of a camera, px (files and streams keep theirs).
        loop: for a file, start again at its end instead of ending.

    Raises:
        OSError: the capture cannot be opened.
    """

    def __init__(
        self, spec: str, *, width: int = 640, height: int = 480, loop: bool = False
    ) -> None:
        self.spec, self.loop, self.live = spec, loop, is_live(spec)
        target, backend = _capture_args(spec)
        self._cap = cv2.VideoCapture(target, backend)
        if not self._cap.isOpened():
            self._cap.release()
            raise OSError(f"cannot open video source {spec!r}")
        if isinstance(target, int) or spec.startswith("/dev/"):
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def read(self) -> np.ndarray | None:
        ok, frame = self._cap.read()
        if not ok and self.loop and not self.live:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        return frame if ok else None

    def close(self) -> None:
        self._cap.release()


class LatestFrame:
    """Read a live source continuously in a thread; :meth:`read` gives the newest frame.

    Args:
        source: a live source.
        name: thread name suffix (the device id).
    """

    live = True

    def __init__(self, source: FrameSource, name: str = "camera") -> None:
        self._source = source
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._ended = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._grab, name=f"grab-{name}", daemon=True)
        self._thread.start()

    def _grab(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self._source.read()
            except Exception:  # the thread's boundary: a failing capture ends the source
                logger.exception("frame grabber failed")
                frame = None
            with self._cond:
                if frame is None:
                    self._ended = True
                    self._cond.notify_all()
                    return
                self._frame = frame
                self._cond.notify_all()

    def read(self) -> np.ndarray | None:
        """The newest frame not returned before; waits up to :data:`STALL_S` for one."""
        with self._cond:
            if self._frame is None and not self._ended:
                self._cond.wait_for(lambda: self._frame is not None or self._ended, STALL_S)
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(STALL_S)
        self._source.close()


class MemorySource:
    """Frames from memory, each returned ``repeat`` times in a row (a code held in view).

    Args:
        frames: the frames, in order.
        repeat: times each frame is returned.
    """

    live = False

    def __init__(self, frames: Iterable[np.ndarray], repeat: int = 1) -> None:
        self._frames = list(frames)
        self._repeat = max(1, repeat)
        self._pos = 0

    def read(self) -> np.ndarray | None:
        index = self._pos // self._repeat
        if index >= len(self._frames):
            return None
        self._pos += 1
        return self._frames[index]

    def close(self) -> None:
        self._pos = len(self._frames) * self._repeat


def open_source(
    spec: str, *, width: int = 640, height: int = 480, loop: bool = False
) -> FrameSource:
    """Open ``spec``; a live one behind a :class:`LatestFrame` grabber.

    Raises:
        OSError: the source cannot be opened.
    """
    capture = CaptureSource(spec, width=width, height=height, loop=loop)
    return LatestFrame(capture, spec) if capture.live else capture
