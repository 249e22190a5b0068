"""A day of play-area check-ins: the plan and its contract events."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from facility_contracts.codec import decode_event, encode_event
from facility_sim.checkin_day import checkin_events, day_plan

TZ = ZoneInfo("Asia/Shanghai")
CPS = [("cp-gate", "rfid"), ("cp-slide", "rfid"), ("cp-sandpit", "rfid"), ("cp-toys", "qr")]


def _plan(skip=None):
    return day_plan(
        datetime(2026, 11, 28, 9, 0, tzinfo=TZ),
        datetime(2026, 11, 28, 17, 30, tzinfo=TZ),
        checkpoints=CPS,
        cleaner="04A23B1E",
        patroller="04A23B1D",
        skip=skip,
    )


def test_one_disinfection_before_opening_and_a_round_each_hour():
    """09:00-17:30 with hourly rounds: 1 disinfection at 08:35, rounds at 09..17 h, 4
    checkpoints each."""
    taps = _plan()
    assert taps[0].task == "disinfection" and taps[0].at == datetime(2026, 11, 28, 8, 35, tzinfo=TZ)
    patrol = [t for t in taps if t.task == "patrol"]
    assert len(patrol) == 9 * 4
    assert sorted({t.at.hour for t in patrol}) == list(range(9, 18))
    assert all(t.at.minute < 20 for t in patrol)  # each round inside its first 20 minutes
    assert [t.at for t in taps] == sorted(t.at for t in taps)


def test_skip_leaves_out_exactly_one_checkpoint_of_one_round():
    """Skipping (5, sandpit) removes the 14:xx sandpit tap and nothing else."""
    full, skipped = _plan(), _plan(skip=(5, "cp-sandpit"))
    missing = set(full) - set(skipped)
    assert len(missing) == 1
    (tap,) = missing
    assert (tap.checkpoint, tap.at.hour) == ("cp-sandpit", 14)


def test_events_follow_the_contract():
    """Every tap becomes a valid checkin event with seq 1..n and its local time in UTC ms."""
    taps = _plan()
    events = checkin_events(taps, device="ci-kids-play", space="kids-play")
    assert [e.seq for e in events] == list(range(1, len(taps) + 1))
    for tap, ev in zip(taps, events, strict=True):
        assert decode_event(encode_event(ev)) == ev
        assert ev.ts == int(tap.at.timestamp() * 1000)
        assert (ev.body.checkpoint, ev.body.proof) == (
            tap.checkpoint,
            "rotating_qr" if tap.method == "qr" else "badge",
        )


def test_naive_interval_is_refused():
    """A naive opening time is an error, not a guess."""
    with pytest.raises(ValueError):
        day_plan(
            datetime(2026, 11, 28, 9),  # noqa: DTZ001 - naive on purpose: refused
            datetime(2026, 11, 28, 17),  # noqa: DTZ001
            checkpoints=CPS,
            cleaner="04A23B1E",
            patroller="04A23B1D",
        )
