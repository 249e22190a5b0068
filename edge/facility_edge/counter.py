"""Pure door-counter tracking: cumulative ``DC`` frames in, crossings and notices out.

A door counter reports totals since power-up, modulo ``total_modulus``
(``docs/protocols.md``). The tracker remembers the last totals and turns each frame
into the people who crossed since the previous one:

- **delta** = ``(new - old) mod modulus`` per direction; a total lower than before
  without a power cycle is a wrap-around (``wrap`` notice).
- **power cycle**: a boot frame (``seq`` 0 and ``uptime_s`` 0), ``uptime_s`` going down,
  or, between two batches, the uptime advancing much less than the time that passed
  (see :func:`_restarted`). The new totals are then the crossings since power-up
  (``power_cycle`` notice). Crossings between the
  last frame seen before the power cycle and the power cut are unknowable and lost.
- **implausible jump**: a delta above ``max_step`` people (e.g. totals reset without
  an uptime drop) is treated as a counter reset: the new totals are credited when they
  are themselves plausible, else nothing (``power_cycle`` notice saying so).
- **frame gaps**: ``seq`` (mod 65536) not advancing by one (``frame_gap`` notice); a
  lost frame loses no people because totals are cumulative.
- the very first frame (no saved state) only sets the baseline.

The state (:class:`TrackerState`) is a small value saved with the events it produced
(same outbox transaction), so a restarted agent continues from the right totals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise

from facility_contracts.envelope import NoticeCode
from facility_contracts.serial.door_counter import SEQ_MODULUS, DoorFrame

#: Largest credible number of people in one step, per direction (the envelope's limit).
MAX_STEP = 100_000
#: Slack of the elapsed-time power-cycle rule: fixed seconds plus a fraction of the gap.
RESTART_SLACK_S = 30.0
RESTART_SLACK_FRACTION = 0.02


@dataclass(frozen=True, slots=True)
class Crossing:
    """People who crossed since the previous frame (``in``/``out`` >= 0, in+out > 0)."""

    in_: int
    out: int
    rtc_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """Something noticed about the device (``code`` is a contract ``NoticeCode``)."""

    code: NoticeCode
    detail: str = ""


Output = Crossing | Notice


@dataclass(frozen=True, slots=True)
class FrameTime:
    """When a batch of frames was read (the edge's clocks; see :mod:`facility_edge.clock`).

    Attributes:
        wall_ms: UTC ms of the read (the batch's stamp).
        mono_ms: monotonic ms of the read, this process only.
        synced: whether ``wall_ms`` is from a synchronised clock.
    """

    wall_ms: int
    mono_ms: int
    synced: bool


@dataclass(frozen=True, slots=True)
class TrackerState:
    """What the tracker remembers about the last frame it accepted.

    Attributes:
        seq, uptime_s, total_in, total_out: that frame's fields.
        at_ms: UTC ms when the batch holding that frame was read.
        at_synced: whether ``at_ms`` came from a synchronised clock.
        mono_ms: monotonic ms of that read; not saved (meaningless in another process).
    """

    seq: int
    uptime_s: int
    total_in: int
    total_out: int
    at_ms: int
    at_synced: bool
    mono_ms: int | None = None

    def to_json(self) -> str:
        """Serialise (without ``mono_ms``)."""
        data = asdict(self)
        del data["mono_ms"]
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrackerState:
        """Parse :meth:`to_json` output. Raises ValueError (or TypeError) when malformed."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("tracker state is not an object")
        state = cls(**data)
        ints = (state.seq, state.uptime_s, state.total_in, state.total_out, state.at_ms)
        if not all(type(v) is int and v >= 0 for v in ints) or type(state.at_synced) is not bool:
            raise ValueError(f"tracker state has bad values: {text[:120]}")
        return state


def _elapsed_s(prev: TrackerState, at: FrameTime) -> float | None:
    """Seconds between the previous batch and this one, when they are comparable."""
    if prev.mono_ms is not None:
        return (at.mono_ms - prev.mono_ms) / 1000
    if prev.at_synced and at.synced and at.wall_ms >= prev.at_ms:
        return (at.wall_ms - prev.at_ms) / 1000
    return None


def _restarted(prev: TrackerState, last: DoorFrame, at: FrameTime) -> bool:
    """Elapsed-time rule: did the device restart before this batch (uptime never dropped)?

    Compares the batch's *last* frame (fresh when read) with the previous batch's last
    frame: if the uptime advanced less than the time that passed, by more than the slack
    (30 s + 2 %), the device restarted in between even though its uptime is now higher.
    A reader stall only delays reads, so it cannot fake a restart here.
    """
    elapsed = _elapsed_s(prev, at)
    if elapsed is None:
        return False
    slack = RESTART_SLACK_S + RESTART_SLACK_FRACTION * elapsed
    return last.uptime_s + slack < prev.uptime_s + elapsed


def _reset_reason(prev: TrackerState, frame: DoorFrame, restart: bool) -> str | None:
    """Why ``frame`` follows a power-up since ``prev``, or None (``docs/protocols.md``)."""
    if frame.seq == 0 and frame.uptime_s == 0:
        return f"boot frame after uptime {prev.uptime_s} s"
    if frame.uptime_s < prev.uptime_s:
        return f"uptime {prev.uptime_s} s -> {frame.uptime_s} s"
    if restart:
        return f"uptime {prev.uptime_s} s -> {frame.uptime_s} s, less than the time passed"
    return None


class CounterTracker:
    """Turn successive ``DC`` frames of one counter into crossings and notices.

    Pure: no I/O, no clock; time comes in with each batch.

    Args:
        modulus: the counter's total modulus (``2**32`` unless configured otherwise).
        state: saved state to continue from, or None for a new device.
        max_step: the largest credible step per direction, people.
    """

    def __init__(
        self, modulus: int = 2**32, state: TrackerState | None = None, max_step: int = MAX_STEP
    ) -> None:
        if modulus < 2:
            raise ValueError("modulus must be >= 2")
        self.modulus = modulus
        self.max_step = max_step
        self.state = state

    def feed(self, frames: Sequence[DoorFrame], at: FrameTime) -> list[Output]:
        """Process one batch of frames read together at ``at``; updates :attr:`state`."""
        out: list[Output] = []
        if not frames:
            return out
        drop_inside = any(b.uptime_s < a.uptime_s for a, b in pairwise(frames))
        for i, frame in enumerate(frames):
            restart = (
                i == 0
                and not drop_inside
                and self.state is not None
                and _restarted(self.state, frames[-1], at)
            )
            out.extend(self._step(frame, at, restart))
        return out

    def reconnected(self, detail: str = "") -> Notice:
        """A ``reconnected`` notice for a port that came back after an unplug."""
        return Notice("reconnected", detail)

    def _step(self, frame: DoorFrame, at: FrameTime, restart: bool) -> list[Output]:
        prev = self.state
        self.state = TrackerState(
            frame.seq, frame.uptime_s, frame.total_in, frame.total_out,
            at.wall_ms, at.synced, at.mono_ms,
        )  # fmt: skip
        if prev is None:
            return []
        reset = _reset_reason(prev, frame, restart)
        if reset is not None:
            return self._since_power_up(frame, f"{reset}; totals since power-up credited")
        if (frame.seq, frame.total_in, frame.total_out) == (
            prev.seq,
            prev.total_in,
            prev.total_out,
        ):
            return []  # the same frame twice
        return self._delta(prev, frame)

    def _delta(self, prev: TrackerState, frame: DoorFrame) -> list[Output]:
        out: list[Output] = []
        gap = (frame.seq - prev.seq) % SEQ_MODULUS
        if gap > 1:
            out.append(Notice("frame_gap", f"seq {prev.seq} -> {frame.seq}: {gap - 1} frames lost"))
        d_in = (frame.total_in - prev.total_in) % self.modulus
        d_out = (frame.total_out - prev.total_out) % self.modulus
        if d_in > self.max_step or d_out > self.max_step:
            why = f"totals jumped by in {d_in}, out {d_out}: treated as a counter reset"
            return [*out, *self._since_power_up(frame, why)]
        wrapped = [
            name
            for name, new, old in (
                ("in", frame.total_in, prev.total_in),
                ("out", frame.total_out, prev.total_out),
            )
            if new < old
        ]
        if wrapped:
            out.append(Notice("wrap", f"{'/'.join(wrapped)} total wrapped at {self.modulus}"))
        if d_in or d_out:
            out.append(Crossing(d_in, d_out, frame.rtc_ms))
        return out

    def _since_power_up(self, frame: DoorFrame, detail: str) -> list[Output]:
        tin, tout = frame.total_in, frame.total_out
        if tin > self.max_step or tout > self.max_step:
            detail = f"{detail}; totals {tin}/{tout} implausible, baseline reset, none credited"
            return [Notice("power_cycle", detail[:200])]
        out: list[Output] = [Notice("power_cycle", detail[:200])]
        if tin or tout:
            out.append(Crossing(tin, tout, frame.rtc_ms))
        return out


def restore_state(text: str | None) -> TrackerState | None:
    """Parse saved state, or None when there is none.

    Raises:
        ValueError: the text is not a valid state (the caller logs it and starts fresh).
    """
    if text is None:
        return None
    try:
        return TrackerState.from_json(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"bad tracker state: {exc}") from exc


__all__ = [
    "MAX_STEP",
    "CounterTracker",
    "Crossing",
    "FrameTime",
    "Notice",
    "Output",
    "TrackerState",
    "restore_state",
]
