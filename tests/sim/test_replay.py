"""The replay loop: pacing, pauses, requests, faults, on a memory port and on a pty."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from facility_contracts.serial.door_counter import DoorFrame
from facility_sim import calit2
from facility_sim.calit2 import Slot
from facility_sim.ports import MemoryPort
from facility_sim.pty_port import PtyPort
from facility_sim.replay import Replay, ReplayOptions

from .helpers import SHANGHAI, ReferenceReader, SerialCollector, csv_slots, decode_stream

ONE_SLOT = [Slot(datetime(2005, 7, 24, 8, tzinfo=SHANGHAI), 3, 2)]


@pytest.fixture(scope="module")
def week(calit2_path: Path) -> list[Slot]:
    """Monday 1 August to Monday 8 August 2005."""
    return calit2.select(
        calit2.load(calit2_path), datetime(2005, 8, 1, tzinfo=SHANGHAI), timedelta(weeks=1)
    )


@pytest.fixture(scope="module")
def week_oracle(week: list[Slot], calit2_path: Path) -> dict[int, list[int]]:
    """People per slot of that week, summed with the csv module (non-empty slots only)."""
    first, end = week[0].start_ms, week[-1].end_ms
    return {k: v for k, v in csv_slots(calit2_path).items() if first <= k < end and v != [0, 0]}


def _totals(frames: list[DoorFrame], modulus: int = 2**32) -> list[int]:
    slots = ReferenceReader(modulus=modulus).feed_all(frames).slots.values()
    return [sum(v[0] for v in slots), sum(v[1] for v in slots)]


def test_max_speed_week_into_memory(week: list[Slot], week_oracle: dict[int, list[int]]) -> None:
    """A week at max speed with modulus 16 gives every slot's count; wait() says finished."""
    port = MemoryPort()
    replay = Replay(week, port, ReplayOptions(speed=None, modulus=16)).start()
    assert replay.wait(20)
    frames = decode_stream(bytes(port.data))
    assert len(frames) == replay.stats.frames
    assert ReferenceReader(modulus=16).feed_all(frames).nonzero() == week_oracle


def test_speed_paces_simulated_time() -> None:
    """At 3,600 simulated s per real s a half-hour slot takes about half a second."""
    started = time.monotonic()
    stats = Replay(ONE_SLOT, MemoryPort(), ReplayOptions(speed=3600, heartbeat_s=600)).run()
    assert stats.finished
    assert 0.45 <= time.monotonic() - started < 2.0


def test_replay_stands_still_while_no_reader() -> None:
    """Without a reader nothing is sent; once one attaches the slot replays in full time."""
    port = MemoryPort(reader=False)
    replay = Replay(ONE_SLOT, port, ReplayOptions(speed=3600, heartbeat_s=600)).start()
    time.sleep(0.4)
    assert not port.data and replay.stats.frames == 0
    attached = time.monotonic()
    port.set_reader(True)
    assert replay.wait(5)
    assert time.monotonic() - attached >= 0.45  # simulated time did not run on while paused
    assert replay.stats.paused_s >= 0.35
    assert _totals(decode_stream(bytes(port.data))) == [3, 2]


def test_power_cycle_request_mid_slot() -> None:
    """A power-cycle request sends a boot frame mid-replay and loses no people."""
    port = MemoryPort()
    replay = Replay(ONE_SLOT, port, ReplayOptions(speed=3600, heartbeat_s=60)).start()
    time.sleep(0.25)
    replay.request_power_cycle()
    assert replay.wait(5)
    frames = decode_stream(bytes(port.data))
    boots = [f for f in frames if f.seq == 0 and f.uptime_s == 0]
    assert len(boots) == 2 and replay.stats.power_cycles == 1
    assert ONE_SLOT[0].start_ms < boots[1].rtc_ms < ONE_SLOT[0].end_ms  # type: ignore[operator]
    assert _totals(frames) == [3, 2]


def test_stop_is_prompt_and_clean(week: list[Slot]) -> None:
    """stop() ends a real-time replay at once, without an error and not finished."""
    replay = Replay(week, MemoryPort(), ReplayOptions(speed=1)).start()
    time.sleep(0.1)
    started = time.monotonic()
    replay.stop()
    assert replay.done.is_set() and time.monotonic() - started < 1.0
    assert not replay.stats.finished and replay.stats.error is None


def test_unplug_once_pauses_memory_port() -> None:
    """unplug_once pauses the replay for the unplug's duration and counts it."""
    port = MemoryPort()
    replay = Replay(ONE_SLOT, port, ReplayOptions(speed=3600, heartbeat_s=60))
    replay.unplug_once(0.3).join(0.05)
    replay.start()
    assert replay.wait(5)
    assert replay.stats.unplugs == 1 and replay.stats.paused_s >= 0.2


def test_faults_through_replay_are_reproducible(week: list[Slot]) -> None:
    """Two replays with one seed send the same bytes; decoded frames are the intact records."""
    options = ReplayOptions(speed=None, seed=42, noise=0.2, truncate=0.05, bitflip=0.05)
    ports = [MemoryPort(), MemoryPort()]
    replays = [Replay(week[:96], p, options) for p in ports]
    for replay in replays:
        replay.run()
    assert ports[0].data == ports[1].data
    intact = [r.frame for r in replays[0].faults.records if r.intact]
    assert decode_stream(bytes(ports[0].data)) == intact
    assert replays[0].stats.faults["truncated"] > 0 and replays[0].stats.faults["bitflip"] > 0


def test_pty_week_at_max_speed_with_pyserial(
    link: Path, week: list[Slot], week_oracle: dict[int, list[int]]
) -> None:
    """A pyserial reader on the link gets every frame of a week, in order, with the counts."""
    with PtyPort(link, settle_s=0.05) as port:
        reader = SerialCollector(link)
        replay = Replay(week, port, ReplayOptions(speed=None)).start()
        assert replay.wait(30)
        assert port.drain(5)
        assert reader.wait_for(replay.stats.frames)
        reader.close()
    assert [f.seq for f in reader.frames] == [i % 65536 for i in range(replay.stats.frames)]
    assert ReferenceReader().feed_all(reader.frames).nonzero() == week_oracle


def test_pty_reader_restart_pauses_and_loses_at_most_a_window(
    link: Path, week: list[Slot], week_oracle: dict[int, list[int]]
) -> None:
    """A reader going away pauses the replay; its successor misses at most one window."""
    with PtyPort(link, settle_s=0.05, window=512) as port:
        replay = Replay(week, port, ReplayOptions(speed=None))
        first = SerialCollector(link)
        replay.start()
        assert first.wait_for(2000)
        first.close()  # what the kernel does when the reader is killed
        time.sleep(0.1)
        sent = replay.stats.frames
        time.sleep(0.3)
        assert replay.stats.frames == sent  # paused: no reader
        second = SerialCollector(link)
        assert replay.wait(30) and port.drain(5)
        assert second.wait_for(replay.stats.frames - len(first.frames) - 20)
        second.close()
    frames = first.frames + second.frames
    lost = replay.stats.frames - len(frames)
    assert 0 <= lost <= 512 // 30 + 1  # frames are at least 30 bytes long
    seqs = [f.seq for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    totals = ReferenceReader().feed_all(frames).nonzero()
    assert [sum(v[0] for v in totals.values()), sum(v[1] for v in totals.values())] == [
        sum(v[0] for v in week_oracle.values()),
        sum(v[1] for v in week_oracle.values()),
    ]


def test_whole_file_at_max_speed_is_fast_and_exact(calit2_path: Path) -> None:
    """All 15 weeks replay in seconds and a reader recovers every half hour of the CSV."""
    port = MemoryPort()
    started = time.monotonic()
    stats = Replay(calit2.load(calit2_path), port, ReplayOptions(speed=None, modulus=1000)).run()
    assert stats.finished and time.monotonic() - started < 15
    oracle = {k: v for k, v in csv_slots(calit2_path).items() if v != [0, 0]}
    assert (
        ReferenceReader(modulus=1000).feed_all(decode_stream(bytes(port.data))).nonzero() == oracle
    )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"speed": 0}, "speed"), ({"unplug_every_s": -1}, "unplug_every_s"), ({"noise": 2}, "noise")],
)
def test_bad_options_named(kwargs: dict[str, float], name: str) -> None:
    """Out-of-range replay options are refused with their name in the message."""
    with pytest.raises(ValueError, match=name):
        Replay(ONE_SLOT, MemoryPort(), ReplayOptions(**kwargs))  # type: ignore[arg-type]
