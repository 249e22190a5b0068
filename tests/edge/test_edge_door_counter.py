"""The door_counter device kind: frames to events with state, outbox full, device clock."""

from __future__ import annotations

from pathlib import Path

from edge_support import frame
from facility_contracts.envelope import DeviceNotice, DoorCrossing
from facility_edge.clock import FakeClock
from facility_edge.config import DoorCounterConfig
from facility_edge.counter import TrackerState
from facility_edge.door_counter import DoorCounterDevice
from facility_edge.outbox import MemoryOutbox
from facility_edge.outbox_sqlite import SqliteOutbox
from facility_edge.recorder import Recorder
from facility_edge.status import DeviceStates

RTC = 1_790_000_000_000  # a plausible device clock, UTC ms


def make(
    outbox: MemoryOutbox | SqliteOutbox, fake: FakeClock | None = None, **cfg: object
) -> DoorCounterDevice:
    config = DoorCounterConfig(
        **{"type": "door_counter", "id": "dc-1", "space": "hall", "port": "loop://", **cfg}
    )  # type: ignore[arg-type]
    rec = Recorder(outbox, fake or FakeClock(), agent_id="edge-1")
    return DoorCounterDevice(config, rec, DeviceStates())


def events(outbox: MemoryOutbox | SqliteOutbox) -> list[object]:
    return list(outbox.pending(10**6, 0))


def test_one_read_is_one_transaction_with_state() -> None:
    """All frames of one read become events stored with the tracker state after the last frame."""
    outbox = MemoryOutbox()
    dev = make(outbox)
    dev.received(frame(1, 10, 100, 50))
    dev.received(frame(2, 11, 102, 50) + frame(3, 12, 105, 51))
    crossing = [(e.body.in_, e.body.out, e.body.space) for e in events(outbox)]
    assert crossing == [(2, 0, "hall"), (3, 1, "hall")]
    saved = TrackerState.from_json(outbox.load_state("door_counter/dc-1") or "")
    assert (saved.seq, saved.total_in, saved.total_out) == (3, 105, 51)


def test_baseline_is_saved_without_events() -> None:
    """The first frame ever saves its state although it yields no event."""
    outbox = MemoryOutbox()
    make(outbox).received(frame(1, 10, 100, 50))
    assert outbox.depth() == 0 and outbox.load_state("door_counter/dc-1") is not None


def test_restart_continues_from_saved_totals(tmp_path: Path) -> None:
    """A new device handler over the same SQLite outbox counts from the saved totals."""
    box = SqliteOutbox(tmp_path / "o.sqlite3")
    make(box).received(frame(1, 10, 100, 50) + frame(2, 11, 101, 50))
    box.close()
    box = SqliteOutbox(tmp_path / "o.sqlite3")
    make(box).received(frame(9, 20, 110, 52))  # frames 3..8 went by while the agent was down
    crossings = [(e.body.in_, e.body.out) for e in events(box) if isinstance(e, DoorCrossing)]
    assert crossings == [(1, 0), (9, 2)]
    box.close()


def test_full_outbox_refuses_then_counts_everyone_later() -> None:
    """A refused batch shows outbox_full; the next accepted batch counts the refused people."""
    outbox = MemoryOutbox(max_events=2)
    dev = make(outbox)
    dev.received(frame(1, 10, 100, 0))
    dev.received(frame(2, 11, 101, 0) + frame(3, 12, 102, 0))  # two events: fills it
    dev.received(frame(4, 13, 110, 0))  # refused
    assert dev.states.snapshot()["dc-1"] == "outbox_full" and outbox.depth() == 2
    outbox.ack([e.id for e in events(outbox)])
    dev.received(frame(5, 14, 111, 0))
    assert dev.states.snapshot()["dc-1"] == "reading"
    later = events(outbox)
    assert [e.body.code for e in later if isinstance(e, DeviceNotice)] == ["frame_gap"]
    assert sum(e.body.in_ for e in later if isinstance(e, DoorCrossing)) == 9
    assert [e.seq for e in later] == [3, 4]  # seq continues without a gap


def test_device_clock_is_used_when_plausible() -> None:
    """With clock: device the frame's RTC is the event time (synced); without RTC the edge's."""
    clock = FakeClock(wall_ms=1_800_000_000_000, synced=False)
    outbox = MemoryOutbox()
    dev = make(outbox, clock, clock="device")
    dev.received(frame(1, 10, 100, 0, RTC))
    dev.received(frame(2, 11, 101, 0, RTC + 1000))
    dev.received(frame(3, 12, 102, 0))
    dev.received(frame(4, 13, 103, 0, 5_000))  # an unset device clock (1970)
    got = [(e.ts, e.synced) for e in events(outbox)]
    assert got == [(RTC + 1000, True), (clock.wall, False), (clock.wall, False)]


def test_device_clock_far_from_a_synced_board_is_not_trusted() -> None:
    """An RTC more than 2 minutes off a synchronised board clock gives way to the board's."""
    clock = FakeClock(wall_ms=RTC, synced=True)
    outbox = MemoryOutbox()
    dev = make(outbox, clock, clock="device")
    dev.received(frame(1, 10, 100, 0, RTC))
    dev.received(frame(2, 11, 101, 0, RTC + 119_000))
    dev.received(frame(3, 12, 102, 0, RTC + 3_600_000))  # an hour ahead
    assert [(e.ts, e.synced) for e in events(outbox)] == [(RTC + 119_000, True), (RTC, True)]


def test_edge_clock_ignores_the_rtc() -> None:
    """With clock: edge the board's stamp is used even when the frame has an RTC."""
    clock = FakeClock(wall_ms=1_800_000_000_000, synced=True)
    outbox = MemoryOutbox()
    dev = make(outbox, clock)
    dev.received(frame(1, 10, 100, 0, RTC) + frame(2, 11, 101, 0, RTC))
    assert [(e.ts, e.synced) for e in events(outbox)] == [(clock.wall, True)]


def test_reconnect_emits_a_notice() -> None:
    """Reopening the port after a loss emits a reconnected notice; the first open does not."""
    outbox = MemoryOutbox()
    dev = make(outbox)
    dev.opened(False)
    dev.closed("lost")
    dev.opened(True)
    assert [e.body.code for e in events(outbox)] == ["reconnected"]
    assert dev.states.snapshot()["dc-1"] == "reading"


def test_garbage_never_raises() -> None:
    """Any bytes, however broken, are absorbed without an exception."""
    outbox = MemoryOutbox()
    dev = make(outbox)
    dev.received(b"$DC,1,2,3*ZZZZ\r\n$$$\r\n\x00\xff" * 50)
    assert outbox.depth() == 0 and dev.core.errors() > 0
