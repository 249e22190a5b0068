"""Helpers for the simulator tests: a CSV oracle, a reference DC v1 reader, a serial reader.

Both are written from the data README and ``docs/protocols.md``, not from the code under
test, so the tests compare the simulator against an independent reading of the spec.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import serial
from facility_contracts.serial.door_counter import DoorFrame, FrameError, decode, splitter

SHANGHAI = ZoneInfo("Asia/Shanghai")
SLOT_MS = 30 * 60 * 1000


def csv_slots(path: Path) -> dict[int, list[int]]:
    """Slot start (UTC ms, file times read as Shanghai time) -> [in, out], with the csv module."""
    return {k: list(v) for k, v in _csv_slots(path).items()}


@functools.lru_cache(maxsize=4)
def _csv_slots(path: Path) -> dict[int, tuple[int, int]]:
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    with open(path, newline="") as handle:
        for row in csv.reader(handle):
            if not row:
                continue
            flow, day, clock, count = row
            local = datetime.strptime(f"{day} {clock}", "%m/%d/%y %H:%M:%S").replace(
                tzinfo=SHANGHAI
            )
            out[int(local.timestamp() * 1000)][0 if flow == "9" else 1] += int(count)
    return {k: (v[0], v[1]) for k, v in out.items()}


@dataclass
class ReferenceReader:
    """Turn DC v1 frames into people per half-hour slot, as docs/protocols.md says a reader should.

    Deltas are taken modulo ``modulus``. A boot frame (seq 0 and uptime 0), a frame whose
    ``uptime_s`` went backwards, or one whose uptime is shorter than the time since the
    previous frame starts a new power-up: its totals are all new people. Each delta is
    put in the slot that contains the frame's ``rtc_ms``.
    """

    modulus: int = 2**32
    last: DoorFrame | None = None
    slots: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    resets: int = 0

    def feed(self, frame: DoorFrame) -> None:
        """Account for one frame."""
        last, self.last = self.last, frame
        if last is None:
            return
        assert frame.rtc_ms is not None and last.rtc_ms is not None
        elapsed_ms = frame.rtc_ms - last.rtc_ms
        boot = frame.seq == 0 and frame.uptime_s == 0
        if boot or frame.uptime_s < last.uptime_s or frame.uptime_s * 1000 + 1000 <= elapsed_ms:
            self.resets += 1
            d_in, d_out = frame.total_in, frame.total_out
        else:
            d_in = (frame.total_in - last.total_in) % self.modulus
            d_out = (frame.total_out - last.total_out) % self.modulus
        if d_in or d_out:
            slot = self.slots[frame.rtc_ms - frame.rtc_ms % SLOT_MS]
            slot[0] += d_in
            slot[1] += d_out

    def feed_all(self, frames: Iterable[DoorFrame]) -> ReferenceReader:
        """Account for many frames; returns self."""
        for frame in frames:
            self.feed(frame)
        return self

    def nonzero(self) -> dict[int, list[int]]:
        """Slots with people, as a plain dict."""
        return {k: v for k, v in self.slots.items() if v != [0, 0]}


def decode_stream(data: bytes) -> list[DoorFrame]:
    """Every frame the contract's splitter and decoder accept in ``data``."""
    frames = []
    for candidate in splitter().feed(data).frames:
        with contextlib.suppress(FrameError):
            frames.append(decode(candidate))
    return frames


class SerialCollector:
    """Read a port with pyserial in a thread, decoding frames, until told to stop."""

    def __init__(self, link: Path) -> None:
        self.port = serial.Serial(str(link), timeout=0.05)
        self.frames: list[DoorFrame] = []
        self.error: Exception | None = None
        self._split = splitter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self.port.read(max(1, self.port.in_waiting))
                for candidate in self._split.feed(data).frames:
                    self.frames.append(decode(candidate))
        except (serial.SerialException, OSError) as exc:  # unplugged or the sim exited
            self.error = exc

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until at least ``count`` frames arrived."""
        deadline = time.monotonic() + timeout
        while len(self.frames) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.frames) >= count

    def close(self) -> None:
        """Stop reading and close the port."""
        self._stop.set()
        self._thread.join(5)
        self.port.close()
