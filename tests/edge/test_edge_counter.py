"""The door counter tracker: deltas, wraps, power cycles, gaps, saved state, and a property."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from facility_contracts.serial.door_counter import DoorFrame
from facility_edge.counter import (
    CounterTracker,
    Crossing,
    FrameTime,
    Notice,
    TrackerState,
    restore_state,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T0 = 1_800_000_000_000  # UTC ms


def at(s: float, synced: bool = True, mono: bool = True) -> FrameTime:
    """The read time ``s`` seconds into the test."""
    return FrameTime(T0 + int(s * 1000), int(s * 1000) + 5_000 if mono else 0, synced)


def feed1(tr: CounterTracker, f: DoorFrame, s: float) -> list[object]:
    return list(tr.feed([f], at(s)))


def crossings(out: list[object]) -> tuple[int, int]:
    return (
        sum(o.in_ for o in out if isinstance(o, Crossing)),
        sum(o.out for o in out if isinstance(o, Crossing)),
    )


def codes(out: list[object]) -> list[str]:
    return [o.code for o in out if isinstance(o, Notice)]


def test_first_frame_is_only_a_baseline() -> None:
    """The first frame ever sets the baseline and yields nothing."""
    tr = CounterTracker()
    assert feed1(tr, DoorFrame(7, 100, 500, 400), 0) == []
    assert tr.state is not None and (tr.state.total_in, tr.state.total_out) == (500, 400)


def test_deltas_between_frames() -> None:
    """Each frame yields the people counted since the previous one."""
    tr = CounterTracker()
    feed1(tr, DoorFrame(1, 100, 500, 400), 0)
    assert feed1(tr, DoorFrame(2, 101, 503, 401), 1) == [Crossing(3, 1)]
    assert feed1(tr, DoorFrame(3, 102, 503, 401), 2) == []


def test_wrap_around_counts_modulo() -> None:
    """Totals passing the modulus count the difference modulo it, with a wrap notice."""
    tr = CounterTracker(modulus=256)
    feed1(tr, DoorFrame(1, 100, 250, 10), 0)
    out = feed1(tr, DoorFrame(2, 101, 5, 12), 1)
    assert crossings(out) == (11, 2) and codes(out) == ["wrap"]


def test_boot_frame_is_a_reset_even_without_an_uptime_drop() -> None:
    """A boot frame (seq 0, uptime 0) after a frame with uptime 0 is a power cycle, not a wrap."""
    tr = CounterTracker(modulus=256)
    feed1(tr, DoorFrame(3, 0, 2, 0), 0)  # just powered up, its boot frame was lost
    out = feed1(tr, DoorFrame(0, 0, 0, 0), 0.5)  # and powered up once more
    assert codes(out) == ["power_cycle"] and crossings(out) == (0, 0)
    assert feed1(tr, DoorFrame(1, 0, 1, 0), 0.8) == [Crossing(1, 0)]


def test_power_cycle_counts_totals_since_power_up() -> None:
    """Uptime going down is a power cycle: the new totals are the crossings since power-up."""
    tr = CounterTracker()
    feed1(tr, DoorFrame(10, 5000, 900, 800), 0)
    out = feed1(tr, DoorFrame(0, 3, 4, 2), 10)
    assert codes(out) == ["power_cycle"] and crossings(out) == (4, 2)


def test_frame_gap_is_noticed_and_loses_nobody() -> None:
    """A seq jump is noticed with the number of frames lost; the delta still counts everyone."""
    tr = CounterTracker()
    feed1(tr, DoorFrame(65534, 100, 10, 10), 0)
    out = feed1(tr, DoorFrame(2, 104, 17, 12), 4)
    assert codes(out) == ["frame_gap"] and "3 frames lost" in out[0].detail
    assert crossings(out) == (7, 2)


def test_repeated_frame_is_ignored() -> None:
    """The same frame read twice yields nothing and no gap notice."""
    tr = CounterTracker()
    feed1(tr, DoorFrame(5, 100, 10, 10), 0)
    assert feed1(tr, DoorFrame(5, 100, 10, 10), 0.1) == []


def test_implausible_jump_is_treated_as_reset() -> None:
    """Totals going backwards without an uptime drop are a counter reset, not 4 billion people."""
    tr = CounterTracker()
    feed1(tr, DoorFrame(1, 100, 1000, 1000), 0)
    out = feed1(tr, DoorFrame(2, 101, 3, 1), 1)
    assert codes(out) == ["power_cycle"] and crossings(out) == (3, 1)


def test_implausible_totals_after_reset_credit_nothing() -> None:
    """After a reset with implausibly large totals nothing is credited, the baseline moves."""
    tr = CounterTracker(max_step=100)
    feed1(tr, DoorFrame(1, 100, 1000, 1000), 0)
    out = feed1(tr, DoorFrame(0, 1, 500, 0), 1)
    assert codes(out) == ["power_cycle"] and crossings(out) == (0, 0)
    assert feed1(tr, DoorFrame(1, 2, 502, 0), 2) == [Crossing(2, 0)]


def test_restart_while_away_is_detected_by_elapsed_time() -> None:
    """Uptime higher than before but far below the time that passed means a power cycle."""
    tr = CounterTracker()
    feed1(tr, DoorFrame(1, 600, 1000, 900), 0)
    out = feed1(tr, DoorFrame(0, 700, 5, 5), 3600)  # an hour later, up for 700 s only
    assert codes(out) == ["power_cycle"] and crossings(out) == (5, 5)


def test_reader_stall_does_not_fake_a_power_cycle() -> None:
    """Frames read late in one batch (a stalled reader) are not a power cycle."""
    tr = CounterTracker()
    tr.feed([DoorFrame(1, 600, 10, 10)], at(0))
    stalled = [DoorFrame(s, 600 + s - 1, 10 + s - 1, 10) for s in range(2, 92)]  # 90 s of frames
    out = tr.feed(stalled, at(91))
    assert codes(out) == [] and crossings(out) == (90, 0)


def test_saved_state_round_trip_without_mono() -> None:
    """State survives to_json/from_json except the process-local monotonic time."""
    tr = CounterTracker()
    feed1(tr, DoorFrame(3, 50, 20, 30), 1)
    assert tr.state is not None and tr.state.mono_ms is not None
    back = restore_state(tr.state.to_json())
    assert back == TrackerState(3, 50, 20, 30, T0 + 1000, True, None)


def test_restored_state_continues_with_the_right_delta() -> None:
    """A tracker restored from saved state counts from the saved totals (agent restart)."""
    first = CounterTracker()
    feed1(first, DoorFrame(1, 10, 100, 100), 0)
    assert first.state is not None
    again = CounterTracker(state=restore_state(first.state.to_json()))
    out = again.feed([DoorFrame(40, 50, 130, 104)], at(40, mono=False))
    assert crossings(out) == (30, 4) and codes(out) == ["frame_gap"]


def test_unsynced_clocks_disable_the_elapsed_rule_across_restarts() -> None:
    """Across a restart, the elapsed-time rule is used only when both times were synchronised."""
    saved = TrackerState(1, 600, 1000, 900, T0, False)
    out = CounterTracker(state=saved).feed([DoorFrame(2, 700, 1010, 900)], at(3600, mono=False))
    assert codes(out) == [] and crossings(out) == (10, 0)


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "{}",
        '{"seq": -1}',
        "not json",
        '{"seq":1,"uptime_s":1,"total_in":1,"total_out":"1","at_ms":1,"at_synced":true}',
    ],
)
def test_bad_saved_state_is_rejected(text: str) -> None:
    """Malformed saved state raises ValueError (the device then starts fresh)."""
    with pytest.raises(ValueError):
        restore_state(text)


# --- property: summed crossings equal the true ones -------------------------------------

# Steps: ("tick", dt_s, in, out, lost, end_of_batch): time passes, people cross, a frame
# is sent (maybe lost); ("power", off_s, boot_frame_lost, end_of_batch): a power cycle
# (the boot frame may be lost); ("restart",): the agent restarts from its saved state.
ticks = st.tuples(
    st.just("tick"),
    st.integers(1, 5),
    st.integers(0, 20),
    st.integers(0, 20),
    st.booleans(),
    st.booleans(),
)
power = st.tuples(st.just("power"), st.integers(0, 120), st.booleans(), st.booleans())
steps = st.lists(
    st.one_of(ticks, ticks, ticks, ticks, power, st.tuples(st.just("restart"))),
    min_size=10,
    max_size=80,
)


def total(modulus: int) -> st.SearchStrategy[int]:
    """A starting total, often just below the modulus so that it wraps soon."""
    return st.one_of(st.integers(0, modulus - 1), st.integers(max(0, modulus - 60), modulus - 1))


@dataclass
class Sent:
    """One frame the simulated counter sent: when, whether it was lost, its people."""

    frame: DoorFrame
    t: int
    lost: bool
    end: bool
    people: int


@dataclass
class Device:
    """A simulated counter (integer seconds; totals modulo ``modulus``; docs/protocols.md)."""

    modulus: int
    uptime0: int
    tin: int
    tout: int
    seq: int
    t: int = 0
    on_at: int = 0
    sent: list[Sent] = field(default_factory=list)

    def tick(self, dt: int, din: int, dout: int, lost: bool, end: bool) -> None:
        self.t += dt
        self.tin, self.tout = (self.tin + din) % self.modulus, (self.tout + dout) % self.modulus
        self.seq = (self.seq + 1) % 65536
        f = DoorFrame(self.seq, self.uptime0 + self.t - self.on_at, self.tin, self.tout)
        lost = lost and sum(1 for x in self.sent[-5:] if x.lost) < 4  # few losses in a row
        self.sent.append(Sent(f, self.t, lost, end, din + dout))

    def power(self, off: int, boot_lost: bool, end: bool) -> None:
        if not self.sent or self.uptime0 + self.t - self.on_at < 60:
            return  # only after a minute up, so the restart is visible without the boot frame
        self.sent[-1].lost = False  # the last frame before a power cycle is seen
        self.t += off
        self.on_at, self.uptime0 = self.t, 0
        self.tin = self.tout = self.seq = 0
        self.sent.append(Sent(DoorFrame(0, 0, 0, 0), self.t, boot_lost, end, 0))


def replay(dev: Device, restart_points: set[int]) -> int:
    """Feed the seen frames in batches through trackers (restarting where told); sum crossings.

    State is saved as the agent does: with every batch that produced something, and
    with the baseline.
    """
    tracker, saved, counted, batch = CounterTracker(dev.modulus), None, 0, []

    def flush(delay_ms: int) -> None:
        nonlocal counted, saved
        if not batch:
            return
        before = tracker.state
        last_t = batch[-1].t
        out = tracker.feed(
            [s.frame for s in batch],
            FrameTime(T0 + last_t * 1000 + delay_ms, last_t * 1000 + delay_ms, True),
        )
        counted += sum(o.in_ + o.out for o in out if isinstance(o, Crossing))
        if out or before is None:
            saved = tracker.state.to_json() if tracker.state else None
        batch.clear()

    for i, sent in enumerate(dev.sent):
        if i in restart_points:
            flush(100)
            tracker = CounterTracker(dev.modulus, restore_state(saved))
        if not sent.lost:
            batch.append(sent)
        if sent.end:
            flush(300)
    flush(200)
    return counted


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modulus=st.sampled_from([256, 2**16, 2**32]), data=st.data(), plan=steps)
def test_summed_crossings_equal_true_crossings(
    modulus: int, data: st.DataObject, plan: list[tuple[object, ...]]
) -> None:
    """Summed crossings equal the true ones across wraps, power cycles, losses and restarts."""
    # Lost frames never include the last one before a power cycle (those people are
    # unknowable); reads are batched at random and the agent restarts from saved state.
    dev = Device(
        modulus,
        data.draw(st.integers(0, 10**6)),
        data.draw(total(modulus)),
        data.draw(total(modulus)),
        data.draw(st.integers(0, 65535)),
    )
    restart_points: set[int] = set()
    for step in plan:
        if step[0] == "tick":
            dev.tick(*step[1:])  # type: ignore[arg-type]
        elif step[0] == "power":
            dev.power(*step[1:])  # type: ignore[arg-type]
        else:
            restart_points.add(len(dev.sent))
    seen = [i for i, s in enumerate(dev.sent) if not s.lost]
    # people counted after the first frame seen (the baseline), up to the last frame seen
    expected = sum(s.people for s in dev.sent[seen[0] + 1 : seen[-1] + 1]) if seen else 0
    assert replay(dev, restart_points) == expected
