"""The simulated RFID reader: its plan read back by an independent parser, pty output, unplugs."""

from __future__ import annotations

import os
import re
import threading
import time
from functools import reduce
from pathlib import Path

import pytest
import serial
from facility_sim.ports import MemoryPort
from facility_sim.pty_port import PtyPort
from facility_sim.rfid_reader import RfidOptions, RfidReaderSim, expected_badges, plan

FRAME = re.compile(rb"\x02([0-9A-F]{10})([0-9A-F]{2})\x03")


def reference_reads(data: bytes) -> list[str]:
    """Badges of valid frames in ``data``, read straight from the datasheet format.

    STX, 10 hex digits (version + 4-byte id), 2 hex digits of XOR of the 5 bytes, ETX;
    an all-zero id is a phantom. The badge is the 4-byte id (8 hex digits).
    """
    out = []
    for m in FRAME.finditer(data):
        raw = bytes.fromhex(m.group(1).decode())
        if reduce(lambda a, b: a ^ b, raw, 0) != int(m.group(2), 16) or raw[1:] == bytes(4):
            continue
        out.append(m.group(1)[2:].decode())
    return out


def collapse(reads: list[tuple[int, str]]) -> list[str]:
    """One badge per tap: consecutive reads of the same tap index count once."""
    seen: list[tuple[int, str]] = []
    for tap, badge in reads:
        if not seen or seen[-1] != (tap, badge):
            seen.append((tap, badge))
    return [b for _, b in seen]


OPTS = RfidOptions(taps=300, cards=10, seed=3, phantom=0.3, bad_checksum=0.3, noise=0.4)


def test_plan_is_deterministic_for_a_seed() -> None:
    """The same options give the same bytes; another seed other bytes."""
    first = [c.data for t in plan(OPTS) for c in t.chunks]
    again = [c.data for t in plan(OPTS) for c in t.chunks]
    other = [c.data for t in plan(RfidOptions(taps=300, cards=10, seed=4)) for c in t.chunks]
    assert first == again and first != other


def test_expected_badges_match_an_independent_reading() -> None:
    """The badges a datasheet reader finds, one per tap, are exactly expected_badges()."""
    taps = plan(OPTS)
    reads = [(t.index, b) for t in taps for c in t.chunks for b in reference_reads(c.data)]
    assert collapse(reads) == expected_badges(taps)
    kinds = {c.kind for t in taps for c in t.chunks}
    assert kinds == {"read", "bad_checksum", "phantom"}
    assert len(expected_badges(taps)) < len(taps)  # some taps lost every frame


def test_same_card_never_within_the_gap() -> None:
    """A card does not come back within min_card_gap taps."""
    badges = [t.card.badge for t in plan(OPTS)]
    for i, badge in enumerate(badges):
        assert badge not in badges[i + 1 : i + 1 + OPTS.min_card_gap]


def test_noise_never_contains_etx() -> None:
    """Noise before a frame never holds ETX, so it cannot close a candidate early."""
    for tap in plan(OPTS):
        for chunk in tap.chunks:
            assert b"\x03" not in chunk.data[:-14]


@pytest.mark.parametrize(
    "bad",
    [
        {"phantom": 1.5},
        {"cards": 3, "min_card_gap": 5},
        {"max_repeats": 0},
        {"unplug_every_taps": 0},
    ],
)
def test_bad_options_rejected(bad: dict[str, object]) -> None:
    """Out-of-range options raise ValueError."""
    with pytest.raises(ValueError):
        RfidOptions(**bad)  # type: ignore[arg-type]


def test_sim_writes_plan_to_memory_port() -> None:
    """The simulator writes every chunk of the plan, in order."""
    opts = RfidOptions(taps=12, cards=8, seed=1, tap_gap_s=0.0, repeat_gap_s=0.0, noise=0.3)
    taps = plan(opts)
    port = MemoryPort()
    sim = RfidReaderSim(port, taps).start()
    assert sim.wait(10)
    assert bytes(port.data) == b"".join(c.data for t in taps for c in t.chunks)


def test_pty_reader_gets_frames_through_unplugs(tmp_path: Path) -> None:
    """A pyserial reader on the pty link gets every frame, reopening after each unplug."""
    opts = RfidOptions(taps=9, cards=8, seed=2, tap_gap_s=0.02, unplug_every_taps=3)
    taps = plan(opts)
    link = tmp_path / "rfid0"
    port = PtyPort(link).open()
    sim = RfidReaderSim(port, taps, unplug_for_s=0.3).start()
    got = b""
    deadline = time.monotonic() + 20
    try:
        while not (sim.done.is_set() and got.count(b"\x03") >= _frames(taps)):
            assert time.monotonic() < deadline, "timed out"
            got += _read_until_unplugged(link, deadline, sim.done)
    finally:
        sim.stop()
        port.close()
    assert sim.stats.unplugs == 2 and sim.stats.finished
    assert reference_reads(got) == reference_reads(b"".join(c.data for t in taps for c in t.chunks))


def _frames(taps: list) -> int:  # type: ignore[type-arg]
    return sum(len(t.chunks) for t in taps)


def _read_until_unplugged(link: Path, deadline: float, done: threading.Event) -> bytes:
    """Open the link, read until the port goes away, the sender is done or time is up.

    Reads only what is waiting (at least 1 byte): a pyserial read of N bytes that is
    cut by an unplug raises and drops the bytes it had gathered.
    """
    if not os.path.exists(link):
        time.sleep(0.05)
        return b""
    data = b""
    try:
        with serial.Serial(str(link), 9600, timeout=0.1) as ser:
            while time.monotonic() < deadline:
                chunk = ser.read(max(1, ser.in_waiting))
                data += chunk
                if not chunk and (done.is_set() or not os.path.exists(link)):
                    break
    except (serial.SerialException, OSError):
        pass
    return data


def test_cli_rfid_reader_rejects_bad_options(tmp_path: Path) -> None:
    """`facility sim rfid-reader` with impossible options exits 2 without a pty."""
    from facility_sim.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(
        app, ["rfid-reader", "--link", str(tmp_path / "r0"), "--cards", "2", "--phantom", "0.1"]
    )
    assert result.exit_code == 2 and not (tmp_path / "r0").exists()
