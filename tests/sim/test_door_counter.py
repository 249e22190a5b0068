"""The door counter state machine and the replay timeline."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from facility_contracts.serial.door_counter import decode
from facility_sim import calit2
from facility_sim.calit2 import Slot
from facility_sim.door_counter import DoorCounter
from facility_sim.timeline import Stepper, emissions, ticks
from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import SHANGHAI, SLOT_MS, ReferenceReader, csv_slots

T0 = 1_122_134_400_000  # 2005-07-24T00:00:00+08:00 in UTC ms


@pytest.fixture(scope="module")
def week(calit2_path: Path) -> list[Slot]:
    """The first full week of the file (Sunday 24 July to Sunday 31 July 2005)."""
    return calit2.select(calit2.load(calit2_path), None, timedelta(weeks=1))


def test_boot_frame_decodes_with_contract() -> None:
    """The power-up frame decodes to seq 0, uptime 0, totals 0 and the simulated clock."""
    device = DoorCounter()
    boot = device.power_on(T0)
    assert decode(boot.data) == boot.frame
    assert (boot.frame.seq, boot.frame.uptime_s, boot.frame.total_in, boot.frame.total_out) == (
        0,
        0,
        0,
        0,
    )
    assert boot.frame.rtc_ms == T0 and boot.reason == "boot"


def test_crossings_accumulate_and_every_frame_decodes() -> None:
    """Totals are cumulative, seq and uptime count up, and the contract decodes every frame."""
    device = DoorCounter()
    frames = [device.power_on(T0)]
    for i, direction in enumerate(["in", "in", "out", "in"]):
        frames += device.cross(T0 + 1500 * (i + 1), direction)  # type: ignore[arg-type]
    decoded = [decode(e.data) for e in frames]
    assert [(f.seq, f.uptime_s, f.total_in, f.total_out) for f in decoded] == [
        (0, 0, 0, 0),
        (1, 1, 1, 0),
        (2, 3, 2, 0),
        (3, 4, 2, 1),
        (4, 6, 3, 1),
    ]


def test_no_rtc_sends_empty_field() -> None:
    """A counter without a clock leaves rtc_ms empty."""
    device = DoorCounter(rtc=False)
    assert device.power_on(T0).data.startswith(b"$DC,0,0,0,0,*")
    assert decode(device.cross(T0 + 10, "in")[-1].data).rtc_ms is None


def test_totals_wrap_at_modulus() -> None:
    """With modulus 5, seven people in leave a total of 2."""
    device = DoorCounter(modulus=5)
    device.power_on(T0)
    last = [device.cross(T0 + i, "in")[-1] for i in range(1, 8)][-1]
    assert decode(last.data).total_in == 2


def test_seq_wraps_at_65536() -> None:
    """The frame counter goes 65535 -> 0."""
    device = DoorCounter(heartbeat_s=1)
    device.power_on(T0)
    beats = device.advance(T0 + 65_536_000)
    assert [decode(e.data).seq for e in beats[-2:]] == [65535, 0]


def test_heartbeat_after_silence_and_superseded_by_crossing() -> None:
    """A heartbeat follows 60 s of silence; a crossing due at the same instant replaces it."""
    device = DoorCounter(heartbeat_s=60)
    device.power_on(T0)
    assert [(e.t_ms - T0, e.reason) for e in device.advance(T0 + 150_000)] == [
        (60_000, "heartbeat"),
        (120_000, "heartbeat"),
    ]
    assert [(e.t_ms - T0, e.reason) for e in device.cross(T0 + 180_000, "out")] == [
        (180_000, "cross")
    ]
    assert [(e.t_ms - T0, e.reason) for e in device.cross(T0 + 250_000, "in")] == [
        (240_000, "heartbeat"),
        (250_000, "cross"),
    ]


def test_power_cycle_restarts_totals_uptime_and_seq() -> None:
    """A power cycle sends a boot frame with totals, uptime and seq back at 0."""
    device = DoorCounter()
    device.power_on(T0)
    device.cross(T0 + 5000, "in")
    out = device.power_cycle(T0 + 7000)
    assert out[-1].reason == "boot"
    assert decode(out[-1].data) == out[-1].frame
    assert (out[-1].frame.seq, out[-1].frame.uptime_s, out[-1].frame.total_in) == (0, 0, 0)
    assert decode(device.cross(T0 + 9500, "in")[-1].data).uptime_s == 2


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"modulus": 1}, "modulus"),
        ({"modulus": 2**32 + 1}, "modulus"),
        ({"heartbeat_s": 0}, "heartbeat_s"),
    ],
)
def test_bad_parameters_named(kwargs: dict[str, float], name: str) -> None:
    """Out-of-range parameters are refused with their name in the message."""
    with pytest.raises(ValueError, match=name):
        DoorCounter(**kwargs)  # type: ignore[arg-type]


def test_time_cannot_go_backwards() -> None:
    """A crossing before the last frame is refused."""
    device = DoorCounter()
    device.power_on(T0)
    device.cross(T0 + 10, "in")
    with pytest.raises(ValueError, match="before the last frame"):
        device.cross(T0 + 5, "in")


@settings(max_examples=80, deadline=None)
@given(
    st.integers(min_value=2, max_value=7),
    st.lists(
        st.tuples(st.integers(1, 20_000), st.sampled_from(["in", "out"]), st.booleans()),
        max_size=80,
    ),
)
def test_reference_reader_recovers_counts_across_wrap_and_resets(
    modulus: int, steps: list[tuple[int, str, bool]]
) -> None:
    """Modular deltas plus uptime-based reset detection give back every crossing."""
    device = DoorCounter(modulus=modulus, heartbeat_s=3)
    frames = [device.power_on(T0)]
    t, expected = T0, [0, 0]
    for gap, direction, cycle in steps:
        t += gap
        if cycle:
            frames += device.power_cycle(t)
        frames += device.cross(t, direction)  # type: ignore[arg-type]
        expected[0 if direction == "in" else 1] += 1
    reader = ReferenceReader(modulus=modulus).feed_all(decode(e.data) for e in frames)
    got = [sum(v[0] for v in reader.slots.values()), sum(v[1] for v in reader.slots.values())]
    assert got == expected


def test_week_timeline_frames_and_slot_close(week: list[Slot], calit2_path: Path) -> None:
    """A week's frames: boot first, a close frame in each slot's last ms with the running totals."""
    frames = list(emissions(week, DoorCounter()))
    assert frames[0].reason == "boot" and frames[0].t_ms == week[0].start_ms
    closes = [e for e in frames if e.reason == "close"]
    assert [e.t_ms for e in closes] == [s.start_ms + SLOT_MS - 1 for s in week]
    oracle = csv_slots(calit2_path)
    running = [0, 0]
    for slot_start, close in zip(sorted(oracle)[: len(week)], closes, strict=True):
        running = [running[0] + oracle[slot_start][0], running[1] + oracle[slot_start][1]]
        assert [close.frame.total_in, close.frame.total_out] == running
    gaps = [b.t_ms - a.t_ms for a, b in pairwise(frames)]
    assert max(gaps) <= 60_000 and min(gaps) >= 0
    assert sum(e.reason == "cross" for e in frames) == sum(s.people_in + s.people_out for s in week)


def test_lost_crossing_frames_shift_nothing_into_another_slot(
    week: list[Slot], calit2_path: Path
) -> None:
    """With every crossing frame lost, slot-close frames still give each half hour its count."""
    kept = [decode(e.data) for e in emissions(week, DoorCounter()) if e.reason != "cross"]
    oracle = {
        k: v for k, v in csv_slots(calit2_path).items() if v != [0, 0] and k < week[-1].end_ms
    }
    assert ReferenceReader().feed_all(kept).nonzero() == oracle


def test_power_cycles_and_small_modulus_keep_slot_counts(
    week: list[Slot], calit2_path: Path
) -> None:
    """Power cycles every 5 h 17 min and a modulus of 7 change nothing for a careful reader."""
    device = DoorCounter(modulus=7)
    sent = list(emissions(week, device, power_cycle_every_s=19_020))
    assert sum(e.reason == "boot" for e in sent) == 1 + (7 * 86400) // 19_020
    frames = [decode(e.data) for e in sent]
    oracle = {
        k: v for k, v in csv_slots(calit2_path).items() if v != [0, 0] and k < week[-1].end_ms
    }
    reader = ReferenceReader(modulus=7).feed_all(frames)
    assert reader.nonzero() == oracle


def test_stepper_power_cycle_between_frames(week: list[Slot]) -> None:
    """A power cycle injected between two frames comes next, at the requested time."""
    stepper = Stepper(DoorCounter(), ticks(week[:4]), week[0].start_ms)
    first = [stepper.next() for _ in range(3)]
    assert all(e is not None for e in first)
    t = stepper.last_ms + 1
    stepper.power_cycle(t)
    boot = stepper.next()
    assert boot is not None and boot.reason == "boot" and boot.t_ms == t


def test_ticks_power_schedule_starts_after_first_slot() -> None:
    """Scheduled power cycles fall every N s after the first slot's start, none at the start."""
    slot = Slot(datetime(2005, 7, 24, tzinfo=SHANGHAI), 0, 0)
    got = [(tk.t_ms - slot.start_ms, tk.kind) for tk in ticks([slot], power_cycle_every_s=600)]
    assert got == [(600_000, "power"), (1_200_000, "power"), (SLOT_MS - 1, "close")]


def test_power_cycle_period_below_a_second_is_refused() -> None:
    """Power cycles closer than uptime's 1 s resolution are refused, naming the option."""
    slot = Slot(datetime(2005, 7, 24, tzinfo=SHANGHAI), 0, 0)
    with pytest.raises(ValueError, match="power_cycle_every_s"):
        ticks([slot], power_cycle_every_s=0.5)
