"""Task buttons of a check-in terminal, read from a Linux input event device.

A Raspberry Pi exposes GPIO buttons as an input device through the ``gpio-key``
device-tree overlay (``dtoverlay=gpio-key,gpio=17,keycode=2``); a USB keypad is one
too. Both deliver ``struct input_event`` records (Linux ``include/uapi/linux/input.h``):
``struct timeval`` (two C longs), ``__u16 type``, ``__u16 code``, ``__s32 value`` -- 24
bytes on 64-bit boards, 16 on 32-bit ones (native sizes). A key press is ``type`` 1
(``EV_KEY``) with ``value`` 1; releases (0) and auto-repeats (2) are ignored.

:func:`parse_events` is pure; :class:`ButtonReader` is the thread around it: it opens
the device non-blocking, polls with a timeout (so it stops promptly), and reopens
after an error or end of file with a 1 s pause. Nothing read stops the thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import struct
import threading
import time
from collections.abc import Callable, Mapping

from facility_contracts.envelope import TaskKind

logger = logging.getLogger(__name__)

#: ``struct input_event`` with the board's native C long.
EVENT = struct.Struct("@llHHi")
EV_KEY = 1
KEY_PRESS = 1
REOPEN_S = 1.0


def parse_events(buf: bytes) -> tuple[list[int], bytes]:
    """Key codes pressed in ``buf`` (whole records), and the unfinished tail of a record."""
    whole = len(buf) - len(buf) % EVENT.size
    codes = [
        code
        for _s, _us, kind, code, value in EVENT.iter_unpack(buf[:whole])
        if kind == EV_KEY and value == KEY_PRESS
    ]
    return codes, buf[whole:]


def encode_press(code: int) -> bytes:
    """The records of a press and release of key ``code`` (for simulators and tests)."""
    now = time.time()
    sec, usec = int(now), int(now % 1 * 1e6)
    return EVENT.pack(sec, usec, EV_KEY, code, 1) + EVENT.pack(sec, usec, EV_KEY, code, 0)


class ButtonReader:
    """One thread turning key presses into task presses.

    Args:
        device_id: for the thread name and logs.
        path: the input event device (or a FIFO carrying the same records).
        keys: key code -> task kind; other keys are ignored.
        on_press: called with the task of each mapped key press.
    """

    def __init__(
        self,
        device_id: str,
        path: str,
        keys: Mapping[int, TaskKind],
        on_press: Callable[[TaskKind], None],
    ) -> None:
        self.device_id, self.path, self.keys, self.on_press = device_id, path, keys, on_press
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"buttons-{device_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        warned = False
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError as exc:
                if not warned:
                    logger.warning("device=%s buttons %s: %s", self.device_id, self.path, exc)
                    warned = True
                self._stop.wait(REOPEN_S)
                continue
            warned = False
            try:
                self._pump(fd)
            finally:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._stop.wait(REOPEN_S)

    def _pump(self, fd: int) -> None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        tail = b""
        while not self._stop.is_set():
            if not poller.poll(200):
                continue
            try:
                data = os.read(fd, 4096)
            except BlockingIOError:
                continue
            except OSError as exc:
                logger.warning("device=%s buttons lost: %s", self.device_id, exc)
                return
            if not data:  # end of file (a FIFO's writer left): reopen
                return
            codes, tail = parse_events(tail + data)
            for code in codes:
                task = self.keys.get(code)
                logger.info("device=%s key %d pressed -> %s", self.device_id, code, task)
                if task is not None:
                    self.on_press(task)
