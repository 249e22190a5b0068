"""What happens to the door counter during a CalIt2 replay, and in which order (pure).

A replay is a time-ordered stream of :class:`Tick` inputs: every crossing from
:func:`facility_sim.calit2.crossings`, a ``close`` at the last millisecond of every
half-hour slot (``end_ms - 1``) and, optionally, a ``power`` cycle every N simulated
seconds. The slot-close frame carries the slot's final totals and is stamped inside the
slot, so a reader that buckets deltas by frame time into ``[start, end)`` gets each slot's
exact count even when crossing frames before it were lost.

:class:`Stepper` feeds the ticks to a :class:`~facility_sim.door_counter.DoorCounter` and
hands out its frames one at a time, interleaving heartbeats; the replay's I/O loop paces
them and may inject extra power cycles between two frames.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal, NamedTuple

from facility_sim.calit2 import Slot, crossings
from facility_sim.door_counter import DoorCounter, Emission

TickKind = Literal["in", "out", "close", "power"]


class Tick(NamedTuple):
    """One input to the device: (UTC ms, order at equal times, kind)."""

    t_ms: int
    order: int
    kind: TickKind


def _slot_ticks(slots: Iterable[Slot]) -> Iterator[Tick]:
    for slot in slots:
        for t_ms, direction in crossings([slot]):
            yield Tick(t_ms, 0, direction)
        yield Tick(slot.end_ms - 1, 1, "close")


def _power_ticks(first_ms: int, last_ms: int, every_s: float) -> Iterator[Tick]:
    step = round(every_s * 1000)
    t = first_ms + step
    while t <= last_ms:
        yield Tick(t, 2, "power")
        t += step


def ticks(slots: Sequence[Slot], *, power_cycle_every_s: float | None = None) -> Iterator[Tick]:
    """The replay's inputs in time order.

    Args:
        slots: slots in time order (non-overlapping).
        power_cycle_every_s: simulated seconds between power cycles, counted from the
            first slot's start (>= 1 s: uptime has a resolution of 1 s); ``None`` = never.

    Raises:
        ValueError: ``power_cycle_every_s`` is not positive.
    """
    if power_cycle_every_s is not None and not power_cycle_every_s >= 1:
        raise ValueError(f"power_cycle_every_s must be >= 1 s, got {power_cycle_every_s}")
    if not slots:
        return iter(())
    streams: list[Iterator[Tick]] = [_slot_ticks(slots)]
    if power_cycle_every_s is not None:
        streams.append(_power_ticks(slots[0].start_ms, slots[-1].end_ms - 1, power_cycle_every_s))
    return heapq.merge(*streams)


class Stepper:
    """Drive a door counter through ticks, one frame at a time (pure).

    Args:
        device: a door counter, not yet powered on; it powers on at ``start_ms``.
        inputs: ticks in time order, none before ``start_ms``.
        start_ms: power-up time, UTC ms (the boot frame is the first frame).
    """

    def __init__(self, device: DoorCounter, inputs: Iterable[Tick], start_ms: int) -> None:
        self.device = device
        self._inputs = iter(inputs)
        self._next: Tick | None = next(self._inputs, None)
        self._pending: deque[Emission] = deque([device.power_on(start_ms)])

    @property
    def last_ms(self) -> int:
        """Simulated time of the last frame handed out or queued, UTC ms."""
        assert self.device.last_ms is not None
        return self.device.last_ms

    def peek_ms(self) -> int | None:
        """Send time of the next frame (UTC ms), or ``None`` when the replay is over."""
        if self._pending:
            return self._pending[0].t_ms
        if self._next is None:
            return None
        return min(self._next.t_ms, self.device.next_heartbeat_ms())

    def next(self) -> Emission | None:
        """The next frame, or ``None`` when the replay is over."""
        if not self._pending:
            tick = self._next
            if tick is None:
                return None
            if self.device.next_heartbeat_ms() < tick.t_ms:
                self._pending.extend(self.device.advance(self.device.next_heartbeat_ms()))
            else:
                self._pending.extend(self._apply(tick))
                self._next = next(self._inputs, None)
        return self._pending.popleft()

    def _apply(self, tick: Tick) -> list[Emission]:
        if tick.kind == "close":
            return self.device.report(tick.t_ms)
        if tick.kind == "power":
            return self.device.power_cycle(tick.t_ms)
        return self.device.cross(tick.t_ms, tick.kind)

    def power_cycle(self, t_ms: int) -> None:
        """Power-cycle the device at ``t_ms`` (between the last and the next frame)."""
        upper = self.peek_ms()
        if upper is not None and t_ms > upper:
            raise ValueError(f"t_ms {t_ms} is after the next frame at {upper} ms")
        self._pending.extend(self.device.power_cycle(t_ms))


def emissions(
    slots: Sequence[Slot], device: DoorCounter, *, power_cycle_every_s: float | None = None
) -> Iterator[Emission]:
    """Every frame a replay of ``slots`` sends, in order (boot frame first).

    Raises:
        ValueError: ``slots`` is empty.
    """
    if not slots:
        raise ValueError("slots is empty: nothing to replay")
    stepper = Stepper(
        device, ticks(slots, power_cycle_every_s=power_cycle_every_s), slots[0].start_ms
    )
    while (frame := stepper.next()) is not None:
        yield frame
