"""Where a simulated device sends its bytes: the :class:`Port` seam and a memory port.

A port pauses the writer while nobody reads (no reader attached, or the cable is
unplugged), like a device under hardware flow control. :class:`MemoryPort` is the
in-process implementation for tests and the demo; :class:`facility_sim.pty_port.PtyPort`
is the real one.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple, Protocol


class WriteOutcome(NamedTuple):
    """Result of :meth:`Port.write`.

    Attributes:
        written: all bytes went out (``False``: cancelled, or cut by an unplug).
        paused_s: real seconds spent waiting for a reader or for room (s).
    """

    written: bool
    paused_s: float


class Port(Protocol):
    """A byte sink with a reader that may come and go."""

    def write(self, data: bytes, cancel: threading.Event) -> WriteOutcome:
        """Write all of ``data``, waiting while no reader is attached, until ``cancel``."""
        ...

    def unplug(self) -> None:
        """Disconnect the reader as a pulled USB adapter would."""
        ...

    def replug(self) -> None:
        """Reconnect after :meth:`unplug`."""
        ...

    def drain(self, timeout: float) -> bool:
        """Wait until the reader has taken everything written (s); ``True`` when it has."""
        ...

    def close(self) -> None:
        """Release the port for good."""
        ...


class MemoryPort:
    """A port that appends to ``data`` while plugged in and a reader is attached.

    Args:
        reader: whether a reader is attached at first.
        poll_s: how often a paused writer re-checks (s).
    """

    def __init__(self, *, reader: bool = True, poll_s: float = 0.005) -> None:
        self.data = bytearray()
        self.chunks: list[bytes] = []
        self._cond = threading.Condition()
        self._reader = reader
        self._plugged = True
        self._poll_s = poll_s

    @property
    def reader(self) -> bool:
        """Whether a reader is attached (and the port plugged in)."""
        with self._cond:
            return self._reader and self._plugged

    def set_reader(self, present: bool) -> None:
        """Attach or detach the (imaginary) reader."""
        with self._cond:
            self._reader = present
            self._cond.notify_all()

    def write(self, data: bytes, cancel: threading.Event) -> WriteOutcome:
        """Append ``data`` once a reader is attached; see :meth:`Port.write`."""
        start = time.monotonic()
        paused = False
        with self._cond:
            while not (self._reader and self._plugged):
                if cancel.is_set():
                    return WriteOutcome(False, time.monotonic() - start)
                paused = True
                self._cond.wait(self._poll_s)
            self.data += data
            self.chunks.append(bytes(data))
        return WriteOutcome(True, time.monotonic() - start if paused else 0.0)

    def unplug(self) -> None:
        """Writers pause until :meth:`replug`."""
        with self._cond:
            self._plugged = False

    def replug(self) -> None:
        """Writers resume (if a reader is attached)."""
        with self._cond:
            self._plugged = True
            self._cond.notify_all()

    def drain(self, timeout: float) -> bool:
        """Nothing is ever in flight in memory."""
        return True

    def close(self) -> None:
        """Nothing to release."""
