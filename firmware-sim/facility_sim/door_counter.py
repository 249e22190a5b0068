"""The simulated door counter: a pure state machine that produces DC v1 frames.

The device model follows ``docs/protocols.md`` (section "Door counter (DC v1)") and the
contract in :mod:`facility_contracts.serial.door_counter`:

- cumulative ``in``/``out`` totals since power-up, modulo ``modulus`` (2**32 by default);
- ``seq`` +1 per frame, modulo 65536, restarting at 0 at power-up;
- ``uptime_s`` whole seconds since power-up;
- ``rtc_ms`` the simulated UTC time in ms, or empty when the device has no clock.

Frames are sent at power-up (``boot``), at every crossing (``cross``), when asked
(``close``, the replay's half-hour slot boundaries) and as a ``heartbeat`` whenever
``heartbeat_s`` pass without any frame. Time is simulated: every method takes the
simulated instant as UTC ms and never reads a clock. Times must not go backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facility_contracts.serial.door_counter import (
    SEQ_MODULUS,
    TOTAL_MODULUS,
    DoorFrame,
    encode,
)

Reason = Literal["boot", "cross", "heartbeat", "close"]
MAX_RTC_MS = 2**53


@dataclass(frozen=True, slots=True)
class Emission:
    """A frame the device sends.

    Attributes:
        t_ms: simulated send time, UTC ms since the epoch.
        reason: why it was sent (``boot``, ``cross``, ``heartbeat``, ``close``).
        frame: the frame's fields.
        data: the encoded frame (``$DC,...*CRC\\r\\n``).
    """

    t_ms: int
    reason: Reason
    frame: DoorFrame
    data: bytes


class DoorCounter:
    """A DC v1 door counter.

    Args:
        modulus: totals wrap at this value (2 <= modulus <= 2**32; people).
        heartbeat_s: a heartbeat frame is sent when this many simulated seconds pass
            without any frame (>= 1, s).
        rtc: whether the device has a real-time clock (frames then carry ``rtc_ms``).

    Raises:
        ValueError: a parameter is out of range (the message names it).
    """

    def __init__(
        self, *, modulus: int = TOTAL_MODULUS, heartbeat_s: float = 60.0, rtc: bool = True
    ) -> None:
        if not 2 <= modulus <= TOTAL_MODULUS:
            raise ValueError(f"modulus must be in 2..2**32, got {modulus}")
        if not heartbeat_s >= 1:
            raise ValueError(f"heartbeat_s must be >= 1 s, got {heartbeat_s}")
        self.modulus = modulus
        self.heartbeat_ms = round(heartbeat_s * 1000)
        self.rtc = rtc
        self.total_in = 0
        self.total_out = 0
        self.seq = 0
        self.power_on_ms: int | None = None
        self.last_ms: int | None = None

    @property
    def powered(self) -> bool:
        """Whether :meth:`power_on` has been called."""
        return self.power_on_ms is not None

    def _check_time(self, t_ms: int) -> None:
        if self.power_on_ms is None or self.last_ms is None:
            raise RuntimeError("the door counter is not powered on: call power_on() first")
        if not isinstance(t_ms, int) or t_ms < self.last_ms:
            raise ValueError(f"t_ms {t_ms!r} is before the last frame at {self.last_ms} ms")

    def _emit(self, t_ms: int, reason: Reason) -> Emission:
        assert self.power_on_ms is not None
        frame = DoorFrame(
            seq=self.seq,
            uptime_s=(t_ms - self.power_on_ms) // 1000,
            total_in=self.total_in,
            total_out=self.total_out,
            rtc_ms=t_ms if self.rtc else None,
        )
        self.seq = (self.seq + 1) % SEQ_MODULUS
        self.last_ms = t_ms
        return Emission(t_ms, reason, frame, encode(frame))

    def power_on(self, t_ms: int) -> Emission:
        """Power up at ``t_ms`` (UTC ms): totals, uptime and seq restart at 0; a boot frame."""
        if not 0 <= t_ms < MAX_RTC_MS:
            raise ValueError(f"t_ms must be in 0..2**53, got {t_ms}")
        if self.last_ms is not None and t_ms < self.last_ms:
            raise ValueError(f"t_ms {t_ms} is before the last frame at {self.last_ms} ms")
        self.total_in = self.total_out = self.seq = 0
        self.power_on_ms = t_ms
        self.last_ms = t_ms
        return self._emit(t_ms, "boot")

    def next_heartbeat_ms(self) -> int:
        """When the next heartbeat is due if no other frame is sent first (UTC ms)."""
        if self.last_ms is None:
            raise RuntimeError("the door counter is not powered on: call power_on() first")
        return self.last_ms + self.heartbeat_ms

    def advance(self, t_ms: int, *, inclusive: bool = True) -> list[Emission]:
        """Let simulated time pass to ``t_ms``; returns the heartbeats due meanwhile.

        Args:
            t_ms: the new simulated time, UTC ms.
            inclusive: also send a heartbeat due exactly at ``t_ms``.
        """
        self._check_time(t_ms)
        out = []
        while (due := self.next_heartbeat_ms()) < t_ms or (inclusive and due == t_ms):
            out.append(self._emit(due, "heartbeat"))
        return out

    def cross(self, t_ms: int, direction: Literal["in", "out"]) -> list[Emission]:
        """Count one person at ``t_ms``; returns due heartbeats, then the crossing frame."""
        out = self.advance(t_ms, inclusive=False)
        if direction == "in":
            self.total_in = (self.total_in + 1) % self.modulus
        elif direction == "out":
            self.total_out = (self.total_out + 1) % self.modulus
        else:
            raise ValueError(f"direction must be 'in' or 'out', got {direction!r}")
        out.append(self._emit(t_ms, "cross"))
        return out

    def report(self, t_ms: int, reason: Reason = "close") -> list[Emission]:
        """Send a frame now (slot boundary); returns due heartbeats, then that frame."""
        out = self.advance(t_ms, inclusive=False)
        out.append(self._emit(t_ms, reason))
        return out

    def power_cycle(self, t_ms: int) -> list[Emission]:
        """Lose power and restart at ``t_ms``: due heartbeats, then the boot frame."""
        out = self.advance(t_ms, inclusive=False)
        out.append(self.power_on(t_ms))
        return out
