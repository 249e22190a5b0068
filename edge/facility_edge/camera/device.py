"""The ``qr_camera`` device kind: a worker thread from frames to ``checkin`` events.

Every ``1 / decode_hz`` seconds the worker takes a frame from its
:class:`~.sources.FrameSource`, decodes all QR codes in it (:class:`~.decoder.QrDecoder`),
passes the texts through the :class:`~.codes.CodeGate` (MAC, time step, replay, hold)
and stores the accepted badges as check-ins in one outbox transaction
(:class:`~facility_edge.checkins.TerminalStore`, with the task from the configuration
or a button). OpenCV runs on one thread (``cv2.setNumThreads(1)``) so the decoder takes
at most one core of the board.

When the source ends or fails, the worker closes it, shows ``disconnected`` and opens
it again after 0.5 s doubling to 5 s; the first successful reopen after a failure
records a ``reconnected`` notice. A video file that ends (without ``loop``) leaves the
device ``ended``. One bad frame (OpenCV error, odd shape) is counted and skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

import cv2

from facility_edge.camera.codes import CodeGate
from facility_edge.camera.decoder import QrDecoder
from facility_edge.camera.sources import FrameSource, is_live, open_source
from facility_edge.checkins import TaskSelector, TerminalStore
from facility_edge.config import QrCameraConfig
from facility_edge.recorder import Recorder
from facility_edge.rfid import Terminal, start_buttons
from facility_edge.status import DeviceStates

logger = logging.getLogger(__name__)

BACKOFF_S = (0.5, 5.0)


class QrCameraDevice:
    """One camera's worker thread.

    Args:
        cfg: the device's configuration.
        recorder: numbers, stamps and stores events; its clock times decodes.
        states: where the reader state is shown.
        selector: the task of each check-in (the configured task by default).
        open_frames: opens the frame source (a seam for tests); by default
            :func:`~.sources.open_source` on ``cfg.source``.
    """

    def __init__(
        self,
        cfg: QrCameraConfig,
        recorder: Recorder,
        states: DeviceStates,
        *,
        selector: TaskSelector | None = None,
        open_frames: Callable[[], FrameSource] | None = None,
    ) -> None:
        self.cfg, self.states, self.clock = cfg, states, recorder.clock
        self.selector = selector or TaskSelector(cfg.task, 0)
        self.store = TerminalStore(
            cfg.id, cfg.checkpoint, cfg.space, recorder, states, self.selector
        )
        self.gate = CodeGate(
            secret=cfg.secret.get_secret_value().encode(),
            hold_ms=round(cfg.hold_s * 1000),
            accept_static=cfg.accept_static,
        )
        self.decoder = QrDecoder()
        self.counts: Counter[str] = Counter()
        self._open = open_frames or (
            lambda: open_source(cfg.source, width=cfg.width, height=cfg.height, loop=cfg.loop)
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{cfg.id}", daemon=True)
        states.set(cfg.id, "starting")

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        cv2.setNumThreads(1)
        delay, opened, failed = BACKOFF_S[0], 0, False
        while not self._stop.is_set():
            try:
                source = self._open()
            except Exception as exc:  # OSError, cv2.error: keep trying
                level = logging.WARNING if not failed else logging.DEBUG
                logger.log(level, "device=%s cannot open %s: %s", self.cfg.id, self.cfg.source, exc)
                self.states.set(self.cfg.id, "disconnected")
                failed = True
                self._stop.wait(delay)
                delay = min(delay * 2, BACKOFF_S[1])
                continue
            opened += 1
            self.states.set(self.cfg.id, "reading")
            if opened > 1 and failed:
                self.store.notice("reconnected", f"source {self.cfg.source} reopened")
            delay, failed = BACKOFF_S[0], False
            try:
                self._pump(source)
            finally:
                source.close()
            if self._stop.is_set():
                break
            if not is_live(self.cfg.source) and not self.cfg.loop:
                self.states.set(self.cfg.id, "ended")
                logger.info("device=%s video file ended (%s)", self.cfg.id, dict(self.gate.counts))
                return
            failed = True
            self.states.set(self.cfg.id, "disconnected")
            self._stop.wait(delay)

    def _pump(self, source: FrameSource) -> None:
        """Decode frames at most ``decode_hz`` times a second until the source ends."""
        period = 1.0 / self.cfg.decode_hz
        while not self._stop.is_set():
            started = time.monotonic()
            frame = source.read()
            if frame is None:
                return
            self.process(frame)
            self._stop.wait(max(0.0, period - (time.monotonic() - started)))

    def process(self, frame: object) -> None:
        """Decode one frame and store its check-ins; never raises."""
        try:
            texts = self.decoder.decode(frame)  # type: ignore[arg-type]
        except Exception as exc:  # a loop boundary: one bad frame
            self.counts["bad_frame"] += 1
            logger.debug("device=%s frame not decodable: %s", self.cfg.id, exc)
            return
        self.counts["frames"] += 1
        if not texts:
            return
        accepted = self.gate.feed(texts, self.clock.mono_ms(), self.clock.wall_ms())
        if accepted and not self.store.store(accepted, self.clock.mono_ms()):
            for a in accepted:
                self.gate.forget(a.badge)


def start_qr_camera(cfg: QrCameraConfig, recorder: Recorder, states: DeviceStates) -> Terminal:
    """Build and start the worker (and button thread) of one QR camera."""
    hold_ms = round(cfg.buttons.hold_s * 1000) if cfg.buttons else 0
    selector = TaskSelector(cfg.task, hold_ms)
    buttons = start_buttons(cfg.id, cfg.buttons, selector, recorder)
    device = QrCameraDevice(cfg, recorder, states, selector=selector)
    device.start()
    return Terminal(device, device, buttons)
