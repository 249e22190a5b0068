"""The pty port: symlink, raw bytes, reader detection, pause, unplug and replug."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import serial
from facility_sim.errors import PortError
from facility_sim.pty_port import PtyPort

FRAME = b"$DC,0,0,0,0,1122134400000*16BE\r\n"


@pytest.fixture
def port(link: Path) -> PtyPort:
    """An open pty port (closed after the test)."""
    with PtyPort(link, settle_s=0.05) as p:
        yield p  # type: ignore[misc]


def _write_async(
    port: PtyPort, data: bytes
) -> tuple[threading.Thread, list[object], threading.Event]:
    result: list[object] = []
    cancel = threading.Event()
    thread = threading.Thread(target=lambda: result.append(port.write(data, cancel)), daemon=True)
    thread.start()
    return thread, result, cancel


def test_link_points_at_raw_slave(port: PtyPort, link: Path) -> None:
    """The link resolves to /dev/pts/N and CR, LF and binary bytes pass unchanged."""
    assert link.is_symlink() and os.readlink(link) == port.slave_name
    assert port.slave_name is not None and port.slave_name.startswith("/dev/pts/")
    data = FRAME + bytes(range(256)) + b"\r\r\n\n"
    with serial.Serial(str(link), timeout=2) as reader:
        assert port.write(data, threading.Event()).written
        assert reader.read(len(data)) == data


def test_reader_presence_follows_open_and_close(port: PtyPort, link: Path) -> None:
    """POLLHUP on the master: no reader before open, a reader while open, none after close."""
    assert not port.reader_present()
    reader = serial.Serial(str(link))
    assert port.reader_present()
    reader.close()
    assert not port.reader_present()


def test_write_waits_for_a_reader(port: PtyPort, link: Path) -> None:
    """A write with no reader pauses, then completes once a reader opens the link."""
    thread, result, _ = _write_async(port, FRAME)
    time.sleep(0.3)
    assert thread.is_alive() and not result
    with serial.Serial(str(link), timeout=2) as reader:
        assert reader.read(len(FRAME)) == FRAME
        thread.join(2)
    assert result[0].written and result[0].paused_s >= 0.25  # type: ignore[attr-defined]


def test_write_cancelled_while_waiting(port: PtyPort) -> None:
    """A paused write returns written=False when cancelled."""
    thread, result, cancel = _write_async(port, FRAME)
    time.sleep(0.05)
    cancel.set()
    thread.join(2)
    assert result and not result[0].written  # type: ignore[attr-defined]


def test_reader_restart_gets_frames_written_after_reopen(port: PtyPort, link: Path) -> None:
    """A reader that closes and reopens receives what is written after its reopen."""
    with serial.Serial(str(link), timeout=2) as reader:
        assert port.write(FRAME, threading.Event()).written
        assert reader.read(len(FRAME)) == FRAME
    thread, result, _ = _write_async(port, FRAME.replace(b"$DC,0", b"$DC,1"))
    time.sleep(0.2)
    assert not result
    with serial.Serial(str(link), timeout=2) as reader:
        assert reader.read(len(FRAME)).startswith(b"$DC,1")
    thread.join(2)


def test_unplug_fails_reads_and_replug_reuses_link(port: PtyPort, link: Path) -> None:
    """After unplug the reader's read fails and the link is gone; replug re-points the same link."""
    reader = serial.Serial(str(link), timeout=1)
    old = port.slave_name
    port.unplug()
    assert not link.exists() and not port.plugged
    with pytest.raises(serial.SerialException):
        reader.read(10)
    reader.close()
    with pytest.raises(serial.SerialException):
        serial.Serial(str(link))
    port.replug()
    assert link.is_symlink() and port.plugged and os.readlink(link) == port.slave_name
    with serial.Serial(str(link), timeout=2) as reader:
        assert port.write(FRAME, threading.Event()).written
        assert reader.read(len(FRAME)) == FRAME
    assert old is not None


def test_write_pauses_while_unplugged(port: PtyPort, link: Path) -> None:
    """A write during an unplug waits for the replug and a new reader."""
    port.unplug()
    thread, result, _ = _write_async(port, FRAME)
    time.sleep(0.2)
    assert not result
    port.replug()
    with serial.Serial(str(link), timeout=2) as reader:
        assert reader.read(len(FRAME)) == FRAME
    thread.join(2)
    assert result[0].written  # type: ignore[attr-defined]


def test_window_bounds_unread_bytes(link: Path) -> None:
    """With a reader that does not read, at most one window of bytes is left queued."""
    with (
        PtyPort(link, settle_s=0.0, window=200) as port,
        serial.Serial(str(link), timeout=1) as reader,
    ):
        cancel = threading.Event()
        for _ in range(5):
            assert port.write(FRAME, cancel).written
        thread, result, _ = _write_async(port, FRAME * 5)
        time.sleep(0.2)
        assert not result
        assert port.inflight() == 5 * len(FRAME) <= 200
        assert len(reader.read(5 * len(FRAME))) == 5 * len(FRAME)
        thread.join(2)
        assert result[0].written  # type: ignore[attr-defined]
        assert not port.drain(0.1)  # the second batch is still unread
        reader.read(5 * len(FRAME))
        assert port.drain(1.0)


def test_refuses_to_replace_a_regular_file(link: Path) -> None:
    """An existing non-symlink at the link path is an error naming the path."""
    link.parent.mkdir(parents=True)
    link.write_text("not a device")
    with pytest.raises(PortError, match=str(link)):
        PtyPort(link).open()
    assert link.read_text() == "not a device"


def test_stale_link_is_replaced(link: Path) -> None:
    """A leftover symlink from an earlier run is re-pointed at the new pty."""
    link.parent.mkdir(parents=True)
    link.symlink_to("/dev/pts/does-not-exist")
    with PtyPort(link) as port:
        assert os.readlink(link) == port.slave_name
    assert not link.exists() and not link.is_symlink()


def test_killed_reader_process_is_noticed(port: PtyPort, link: Path) -> None:
    """SIGKILL of a reader process shows as POLLHUP at once: the port pauses again."""
    code = (
        "import serial, sys; s = serial.Serial(sys.argv[1]); print('open', flush=True); s.read(1)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(link)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"open\n"
        assert port.reader_present()
    finally:
        proc.kill()
        proc.wait(5)
    assert not port.reader_present()
