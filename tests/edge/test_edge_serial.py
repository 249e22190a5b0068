"""Serial reading: the sans-I/O frame core, and the reader thread on a pty and on socket://."""

from __future__ import annotations

import logging
import random
import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest
from edge_support import PtyLine, SocketLine, frame, wait_until
from facility_contracts.envelope import (
    DEVICE_READER_STATES,
    HEALTHY_READER_STATES,
    DeviceNotice,
    DoorCrossing,
)
from facility_contracts.serial import door_counter as dc
from facility_edge.clock import SystemClock
from facility_edge.config import DoorCounterConfig
from facility_edge.door_counter import DoorCounterDevice
from facility_edge.outbox import MemoryOutbox
from facility_edge.recorder import Recorder
from facility_edge.serial_reader import FailureLog, FrameCore, SerialReader
from facility_edge.status import DeviceStates
from hypothesis import given, settings
from hypothesis import strategies as st


def with_crc(body: bytes) -> bytes:
    """A frame with a correct checksum around any body (to reach the field/syntax checks)."""
    return b"$" + body + b"*" + f"{dc.crc16(body):04X}".encode() + b"\r\n"


def flip(raw: bytes, rng: random.Random) -> bytes:
    """Flip one bit in the '$'..'*' part or in the CRLF (not in the CRC's hex digits)."""
    star = raw.rfind(b"*")
    pos = rng.choice([*range(star + 1), len(raw) - 2, len(raw) - 1])
    out = bytearray(raw)
    out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


def noisy_stream(n: int, seed: int) -> tuple[bytes, list[dc.DoorFrame]]:
    """n valid frames (seq 1..n, totals +1 in per frame) mixed with noise, cuts and bit flips."""
    rng = random.Random(seed)
    valid = [dc.DoorFrame(i, 100 + i, 1000 + i, 50) for i in range(1, n + 1)]
    parts: list[bytes] = []
    for f in valid:
        decoy = dc.encode(dc.DoorFrame(rng.randrange(60000, 65535), 7, 99999, 99999))
        parts.append(
            rng.choice(
                [
                    bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30))).replace(
                        b"$", b"#"
                    ),
                    decoy[: rng.randrange(1, len(decoy) - 1)],  # cut short
                    flip(decoy, rng),
                    with_crc(b"DC,1,2,x,4,"),  # checksum fine, a field is not a number
                    b"",
                ]
            )
        )
        parts.append(dc.encode(f))
    return b"".join(parts), valid


def test_core_returns_exactly_the_valid_frames() -> None:
    """Among noise, cut, bit-flipped and malformed candidates, exactly the valid frames come out."""
    stream, valid = noisy_stream(300, seed=7)
    core = FrameCore("dc-1", dc.splitter(), dc.decode)
    assert core.feed(stream) == valid
    assert core.counts["frames"] == 300 and core.errors() > 0


def test_core_counts_each_reason() -> None:
    """Each kind of bad input is counted under its reason."""
    core = FrameCore("dc-1", dc.splitter(), dc.decode)
    good = frame(1, 1, 1, 1)
    bad_crc = good[:5] + (b"9" if good[5:6] != b"9" else b"8") + good[6:]
    stream = (
        b"noise" + bad_crc + with_crc(b"XX,1,2,3,4,") + with_crc(b"DC,1,2,x,4,") + good[:10] + good
    )
    assert core.feed(stream) == [dc.decode(good)]
    assert {
        k: core.counts[k] for k in ("checksum", "syntax", "field", "dropped", "noise_bytes")
    } == {"checksum": 1, "syntax": 1, "field": 1, "dropped": 1, "noise_bytes": 5}


def test_core_logs_errors_with_device_and_bounded_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every bad frame is logged with the device id; warnings grow only with log2(errors)."""
    core = FrameCore("dc-7", dc.splitter(), dc.decode)
    bad = with_crc(b"DC,1,2,x,4,")
    with caplog.at_level(logging.DEBUG, logger="facility_edge.serial_reader"):
        core.feed(bad * 100)
    logged = [r for r in caplog.records if "device=dc-7" in r.getMessage()]
    assert len(logged) == 100 and core.counts["field"] == 100
    assert sum(r.levelno == logging.WARNING for r in logged) == 7  # 1, 2, 4, ..., 64


@settings(max_examples=50, deadline=None)
@given(cuts=st.lists(st.integers(0, 5000), max_size=40), seed=st.integers(0, 1000))
def test_core_is_indifferent_to_chunking(cuts: list[int], seed: int) -> None:
    """However the stream is cut into reads, the same valid frames come out."""
    stream, valid = noisy_stream(40, seed)
    core = FrameCore("dc-1", dc.splitter(), dc.decode)
    out = []
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    for a, b in pairwise(bounds):
        out += core.feed(stream[a:b])
    assert out == valid


def device_on(url: str, tmp_path: Path) -> tuple[SerialReader, DoorCounterDevice, MemoryOutbox]:
    """A door counter device reading ``url`` into a memory outbox (reader started)."""
    cfg = DoorCounterConfig(type="door_counter", id="dc-1", space="hall", port=url)
    outbox = MemoryOutbox()
    device = DoorCounterDevice(
        cfg, Recorder(outbox, SystemClock(), agent_id="edge-1"), DeviceStates()
    )
    reader = SerialReader("dc-1", url, 9600, device)
    reader.start()
    return reader, device, outbox


def crossings_in(outbox: MemoryOutbox) -> int:
    return sum(e.body.in_ for e in outbox.pending(10**6, 0) if isinstance(e, DoorCrossing))


def notices_in(outbox: MemoryOutbox) -> list[str]:
    return [e.body.code for e in outbox.pending(10**6, 0) if isinstance(e, DeviceNotice)]


def test_noisy_line_counts_every_valid_frame(line: PtyLine | SocketLine, tmp_path: Path) -> None:
    """On a real line, every valid frame among garbage is counted, nothing else, reader alive."""
    reader, device, outbox = device_on(line.url, tmp_path)
    try:
        line.replug() if isinstance(line, SocketLine) else None
        wait_until(lambda: reader.opens >= 1)
        stream, valid = noisy_stream(200, seed=11)
        rng = random.Random(3)
        pos = 0
        while pos < len(stream):
            step = rng.randrange(1, 400)
            line.write(stream[pos : pos + step])
            pos += step
        # +1 per frame after the baseline, once the last batch is committed
        wait_until(lambda: crossings_in(outbox) >= len(valid) - 1, timeout=10)
        time.sleep(0.1)
        assert crossings_in(outbox) == len(valid) - 1 and device.core.counts["frames"] == len(valid)
        assert notices_in(outbox) == [] and device.core.errors() > 0 and reader.alive
    finally:
        reader.stop()


def test_unplug_and_replug_resumes_within_5s(line: PtyLine | SocketLine, tmp_path: Path) -> None:
    """After an unplug and replug (a symlink re-pointed to a new pty) reading resumes within 5 s."""
    reader, device, outbox = device_on(line.url, tmp_path)
    try:
        line.replug() if isinstance(line, SocketLine) else None
        wait_until(lambda: reader.opens >= 1)
        line.write(frame(1, 10, 100, 0) + frame(2, 11, 103, 0))
        wait_until(lambda: crossings_in(outbox) == 3)
        line.unplug()
        wait_until(lambda: device.states.snapshot()["dc-1"] == "disconnected")
        time.sleep(0.5)
        replugged = time.monotonic()
        line.replug()
        seq = 3
        while crossings_in(outbox) < 10 and time.monotonic() - replugged < 5:
            line.write(frame(seq, 9 + seq, 110, 0))  # the counter keeps sending its totals
            seq += 1
            time.sleep(0.1)
        assert crossings_in(outbox) == 10, "reading did not resume within 5 s"
        assert "reconnected" in notices_in(outbox) and reader.alive
    finally:
        reader.stop()


def test_reader_stops_promptly(pty_line: PtyLine, tmp_path: Path) -> None:
    """stop() ends the reader thread within a second even when the line is silent."""
    reader, _, _ = device_on(pty_line.url, tmp_path)
    wait_until(lambda: reader.opens >= 1)
    started = time.monotonic()
    reader.stop()
    assert not reader.alive and time.monotonic() - started < 1.0


def test_missing_port_keeps_retrying(tmp_path: Path) -> None:
    """A port that does not exist yet shows `disconnected` and is retried until it appears."""
    line_holder: list[PtyLine] = []
    reader, device, _ = device_on(str(tmp_path / "ttyDC0"), tmp_path)
    try:
        time.sleep(0.5)
        assert reader.alive and device.states.snapshot()["dc-1"] == "disconnected"
        line_holder.append(PtyLine(tmp_path))
        wait_until(lambda: reader.opens >= 1, timeout=5)
    finally:
        reader.stop()
        for made in line_holder:
            made.close()


def test_disconnected_is_a_contract_reader_state() -> None:
    """The state a missing port shows is one the contract lists, and not a healthy one."""
    assert "disconnected" in DEVICE_READER_STATES
    assert "disconnected" not in HEALTHY_READER_STATES


def test_failure_log_warns_first_then_every_remind_interval() -> None:
    """The first failure and one reminder per interval are WARNING; the rest are DEBUG."""
    log = FailureLog(remind_s=600.0)
    times = [0.0, 5.0, 10.0, 599.0, 600.0, 605.0, 1199.0, 1200.0]
    levels = [log.failed(t) for t in times]
    w, d = logging.WARNING, logging.DEBUG
    assert levels == [w, d, d, d, w, d, d, w]
    assert (log.failures, log.lasted(1200.0)) == (8, 1200.0)
    assert log.reset() == 8 and log.failed(2000.0) == w  # a new run of failures warns again


class FailingSink:
    """A ByteSink that records what the reader told it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def opened(self, reconnect: bool) -> None:
        self.calls.append("opened")

    def open_failed(self, reason: str) -> None:
        self.calls.append(f"open_failed: {reason}")

    def received(self, data: bytes) -> None: ...

    def closed(self, reason: str) -> None:
        self.calls.append("closed")


def test_missing_port_warns_once_then_debug(caplog: pytest.LogCaptureFixture) -> None:
    """Many failed opens give one WARNING ("retrying every N s"), the rest DEBUG, and the
    sink hears of every failure."""
    attempts: list[float] = []

    def absent(url: str, baudrate: int) -> object:
        attempts.append(time.monotonic())
        raise FileNotFoundError(2, "No such file or directory", url)

    sink = FailingSink()
    reader = SerialReader(
        "dc-9",
        "/dev/ttyNOPE",
        9600,
        sink,
        open_port=absent,
        backoff_s=(0.01, 0.02),
        never_opened_max_s=0.04,
    )
    with caplog.at_level(logging.DEBUG, logger="facility_edge.serial_reader"):
        reader.start()
        wait_until(lambda: len(attempts) >= 8)
        reader.stop()
    mine = [r for r in caplog.records if "device=dc-9 cannot open /dev/ttyNOPE" in r.getMessage()]
    warnings = [r for r in mine if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "retrying every 0.04 s" in warnings[0].getMessage()
    assert len(mine) == len(attempts) >= 8
    assert sink.calls == ["open_failed: [Errno 2] No such file or directory: '/dev/ttyNOPE'"] * len(
        attempts
    )


def test_never_opened_port_backs_off_to_its_own_cap() -> None:
    """A port that never opened is retried ever more slowly, up to the longer cap."""
    attempts: list[float] = []

    def absent(url: str, baudrate: int) -> object:
        attempts.append(time.monotonic())
        raise OSError("no such port")

    reader = SerialReader(
        "dc-9",
        "/dev/ttyNOPE",
        9600,
        FailingSink(),
        open_port=absent,
        backoff_s=(0.02, 0.04),
        never_opened_max_s=0.16,
    )
    reader.start()
    wait_until(lambda: len(attempts) >= 7, timeout=5)
    reader.stop()
    gaps = [b - a for a, b in pairwise(attempts)]
    # waits 0.02, 0.04, 0.08, 0.16, 0.16, ...: past the short cap of 0.04 s, at most 0.16 s
    assert 0.15 <= max(gaps[:6]) < 0.4 and gaps[0] < 0.1


def test_handler_exception_does_not_stop_reader(pty_line: PtyLine) -> None:
    """An exception in the handler is logged and reading goes on."""
    calls: list[bytes] = []
    fail = threading.Event()
    fail.set()

    class Sink:
        def opened(self, reconnect: bool) -> None: ...

        def open_failed(self, reason: str) -> None: ...

        def received(self, data: bytes) -> None:
            calls.append(data)
            if fail.is_set():
                fail.clear()
                raise RuntimeError("boom")

        def closed(self, reason: str) -> None: ...

    reader = SerialReader("dc-1", pty_line.url, 9600, Sink())
    reader.start()
    try:
        wait_until(lambda: reader.opens >= 1)
        pty_line.write(b"first")
        wait_until(lambda: calls)
        pty_line.write(b"second")
        wait_until(lambda: b"second" in b"".join(calls))
        assert reader.alive
    finally:
        reader.stop()
