"""Time: the :class:`Clock` seam, the system clock, a fake, and the event :class:`Stamper`.

All wall-clock values are UTC milliseconds since the Unix epoch (integers); monotonic
values are milliseconds of ``CLOCK_MONOTONIC`` (meaningful only within one process).
Whether the wall clock is synchronised comes from the kernel (``adjtimex(2)``): the
clock state ``TIME_ERROR`` or the status bit ``STA_UNSYNC`` mean unsynchronised, which
is what ntpd, chrony and systemd-timesyncd clear once they discipline the clock.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)

#: A backward wall-clock step larger than this (ms) is a clock step (``clock_step`` notice).
STEP_MS = 1000

_TIME_ERROR = 5  # adjtimex return value: clock not synchronised
_STA_UNSYNC = 0x0040  # timex.status bit


class Clock(Protocol):
    """Where time-dependent code gets the time."""

    def wall_ms(self) -> int:
        """Wall-clock time, UTC ms since the epoch (may step)."""
        ...

    def mono_ms(self) -> int:
        """Monotonic time, ms (never steps; origin arbitrary)."""
        ...

    def synced(self) -> bool:
        """True when the wall clock is synchronised (NTP or similar)."""
        ...


class _Timex(ctypes.Structure):
    # struct timex up to ``status`` (identical on 32- and 64-bit Linux), then room for
    # the rest of the structure (the kernel writes about 200 bytes).
    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_rest", ctypes.c_byte * 512),
    )


def kernel_clock_synced() -> bool:
    """Ask the kernel whether the system clock is synchronised.

    Calls ``adjtimex`` with ``modes = 0`` (read only, no privilege needed).

    Returns:
        False when the call is unavailable (not Linux, no libc) or fails, when the
        clock state is ``TIME_ERROR``, or when ``STA_UNSYNC`` is set; True otherwise.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return False
    return state not in (-1, _TIME_ERROR) and not tx.status & _STA_UNSYNC


class SystemClock:
    """The board's clocks: ``time.time_ns``, ``time.monotonic_ns`` and ``adjtimex``.

    The sync state is re-read from the kernel at most once per ``sync_ttl_ms``.
    """

    def __init__(self, sync_ttl_ms: int = 1000) -> None:
        self._ttl = sync_ttl_ms
        self._synced = False
        self._checked: int | None = None

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def mono_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000

    def synced(self) -> bool:
        now = self.mono_ms()
        if self._checked is None or now - self._checked >= self._ttl:
            self._synced = kernel_clock_synced()
            self._checked = now
        return self._synced


class FakeClock:
    """A clock for tests: time moves only when told.

    Args:
        wall_ms: initial wall time, UTC ms.
        mono_ms: initial monotonic time, ms.
        synced: initial sync state.
    """

    def __init__(
        self, wall_ms: int = 1_764_403_200_000, mono_ms: int = 1_000_000, synced: bool = True
    ) -> None:
        self.wall = wall_ms
        self.mono = mono_ms
        self.is_synced = synced

    def wall_ms(self) -> int:
        return self.wall

    def mono_ms(self) -> int:
        return self.mono

    def synced(self) -> bool:
        return self.is_synced

    def advance(self, ms: int) -> None:
        """Let ``ms`` milliseconds pass on both clocks."""
        self.wall += ms
        self.mono += ms

    def step_wall(self, ms: int) -> None:
        """Step the wall clock by ``ms`` (negative: backwards) without monotonic time passing."""
        self.wall += ms


@dataclass(frozen=True, slots=True)
class Stamp:
    """The time of one batch of events.

    Attributes:
        ts: event time, UTC ms; never lower than an earlier stamp of the same stamper.
        mono: monotonic ms (the clock's origin) when the stamp was taken.
        synced: whether ``ts`` comes from a synchronised clock; False while held after
            a backward step.
        step_ms: set (ms stepped back) on the first stamp after a backward step of more
            than :data:`STEP_MS`: emit one ``clock_step`` notice for it.
    """

    ts: int
    mono: int
    synced: bool
    step_ms: int | None = None


class Stamper:
    """Turn clock readings into event stamps that never go backwards (one agent boot).

    When the wall clock steps back by more than :data:`STEP_MS`, stamps keep the last
    ``ts`` with ``synced`` False until the wall clock catches up; the first such stamp
    carries ``step_ms`` so the caller emits one ``clock_step`` notice. Smaller
    backward jitter is held at the last ``ts`` without changing ``synced``.
    Thread-safe.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: int | None = None
        self._held = False

    def stamp(self) -> Stamp:
        """Take a stamp now."""
        wall, mono, synced = self._clock.wall_ms(), self._clock.mono_ms(), self._clock.synced()
        with self._lock:
            last = self._last
            if last is None or wall >= last:
                if self._held:
                    logger.info("wall clock caught up after a backward step (ts=%d)", wall)
                self._last, self._held = wall, False
                return Stamp(wall, mono, synced)
            if self._held:
                return Stamp(last, mono, False)
            back = last - wall
            if back > STEP_MS:
                self._held = True
                logger.warning(
                    "wall clock stepped back by %d ms; holding ts=%d unsynced", back, last
                )
                return Stamp(last, mono, False, step_ms=back)
            return Stamp(last, mono, synced)

    def snapshot(self) -> tuple[int | None, bool]:
        """The stamper's state, to :meth:`restore` when a batch could not be stored."""
        with self._lock:
            return self._last, self._held

    def restore(self, snap: tuple[int | None, bool]) -> None:
        """Return to a :meth:`snapshot` (a refused batch's ``clock_step`` is emitted again)."""
        with self._lock:
            self._last, self._held = snap
