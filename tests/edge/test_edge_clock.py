"""Clocks: the system clock, kernel sync state, and stamps that never go backwards."""

from __future__ import annotations

import time
from itertools import pairwise

from facility_contracts.envelope import DeviceNotice, DoorCrossingBody
from facility_edge.clock import FakeClock, Stamper, SystemClock, kernel_clock_synced
from facility_edge.outbox import MemoryOutbox
from facility_edge.recorder import Batch, Draft, Recorder


def test_system_clock_reads_the_os() -> None:
    """wall_ms is UTC epoch ms close to time.time(); mono_ms never decreases."""
    clock = SystemClock()
    assert abs(clock.wall_ms() - time.time() * 1000) < 1000
    a, b = clock.mono_ms(), clock.mono_ms()
    assert b >= a


def test_system_clock_sync_comes_from_the_kernel() -> None:
    """synced() reports adjtimex's answer (a bool, without privileges)."""
    assert SystemClock().synced() is kernel_clock_synced()
    assert isinstance(kernel_clock_synced(), bool)


def test_stamps_follow_a_forward_clock() -> None:
    """A clock moving forward gives its own time and sync state."""
    clock = FakeClock(wall_ms=5_000_000_000_000, synced=True)
    stamper = Stamper(clock)
    first = stamper.stamp()
    clock.advance(250)
    second = stamper.stamp()
    assert (first.ts, second.ts) == (5_000_000_000_000, 5_000_000_000_250)
    assert second.synced and second.step_ms is None and second.mono - first.mono == 250


def test_small_backward_jitter_is_held_without_notice() -> None:
    """A step back of at most 1 s keeps the last ts and the sync state, without a notice."""
    clock = FakeClock(wall_ms=2_000_000_000_000)
    stamper = Stamper(clock)
    stamper.stamp()
    clock.step_wall(-1000)
    held = stamper.stamp()
    assert (held.ts, held.synced, held.step_ms) == (2_000_000_000_000, True, None)


def test_big_backward_step_holds_unsynced_until_caught_up() -> None:
    """A step back over 1 s: one notice, ts held with synced False until the clock catches up."""
    clock = FakeClock(wall_ms=2_000_000_000_000)
    stamper = Stamper(clock)
    stamper.stamp()
    clock.step_wall(-60_000)
    first = stamper.stamp()
    assert (first.ts, first.synced, first.step_ms) == (2_000_000_000_000, False, 60_000)
    clock.advance(30_000)
    during = stamper.stamp()
    assert (during.ts, during.synced, during.step_ms) == (2_000_000_000_000, False, None)
    clock.advance(30_001)
    after = stamper.stamp()
    assert (after.ts, after.synced, after.step_ms) == (2_000_000_000_001, True, None)
    clock.step_wall(-5_000)
    assert stamper.stamp().step_ms == 5_000  # a later step is noticed again


def test_recorder_emits_one_clock_step_notice_and_keeps_order() -> None:
    """A clock step gives one clock_step notice (device = the agent); ts never decreases."""
    clock = FakeClock(wall_ms=1_800_000_000_000)
    outbox = MemoryOutbox()
    rec = Recorder(outbox, clock, agent_id="edge-1")
    body = DoorCrossingBody(in_=1, out=0, space="hall")

    def one(stamp: object) -> Batch:
        return Batch([Draft("dc-1", body)])

    for wall_step in (0, -3_600_000, 0, 0):
        clock.step_wall(wall_step)
        clock.advance(1000)
        rec.record(one)
    events = outbox.pending(100, clock.mono_ms())
    notices = [e for e in events if isinstance(e, DeviceNotice)]
    assert [(n.device, n.body.code) for n in notices] == [("edge-1", "clock_step")]
    assert [e.seq for e in events] == list(range(1, 6))
    assert all(a.ts <= b.ts for a, b in pairwise(events))
    assert [e.synced for e in events] == [True, False, False, False, False]
