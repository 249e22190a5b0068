"""The rfid_reader device kind with a fake clock: faults, repeat window, buttons, notices."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest
from edge_support import wait_until
from facility_contracts.envelope import CheckIn, DeviceNotice
from facility_contracts.serial.rfid125 import RfidFrame, encode
from facility_edge.buttons import ButtonReader, encode_press, parse_events
from facility_edge.checkins import RepeatFilter, TaskSelector
from facility_edge.clock import FakeClock
from facility_edge.config import RfidReaderConfig, parse_config
from facility_edge.errors import ConfigError
from facility_edge.outbox import MemoryOutbox
from facility_edge.recorder import Recorder
from facility_edge.rfid import RfidReaderDevice
from facility_edge.status import DeviceStates
from facility_sim.rfid_reader import RfidOptions, expected_badges, plan

A = RfidFrame(0x1A, 0x0040B83D)  # badge 0040B83D
B = RfidFrame(0x62, 0xE3086CED)  # badge E3086CED


def make(
    clock: FakeClock, outbox: MemoryOutbox | None = None, selector: TaskSelector | None = None
) -> tuple[RfidReaderDevice, MemoryOutbox]:
    outbox = outbox or MemoryOutbox()
    cfg = RfidReaderConfig(
        type="rfid_reader",
        id="ct-play-1",
        checkpoint="kp-sandpit",
        space="kids-play",
        task="disinfection",
        port="loop://",
        repeat_window_s=2.0,
    )
    rec = Recorder(outbox, clock, agent_id="edge-1")
    return RfidReaderDevice(cfg, rec, DeviceStates(), selector), outbox


def checkins(outbox: MemoryOutbox) -> list[CheckIn]:
    return [e for e in outbox.pending(10**6, 0) if isinstance(e, CheckIn)]


def test_valid_read_becomes_checkin_event() -> None:
    """A valid frame becomes one checkin with the terminal's checkpoint, space and task."""
    clock = FakeClock()
    dev, outbox = make(clock)
    dev.received(encode(A))
    (event,) = checkins(outbox)
    body = event.body
    assert (body.badge, body.checkpoint, body.space, body.task, body.method, body.proof) == (
        "0040B83D",
        "kp-sandpit",
        "kids-play",
        "disinfection",
        "rfid",
        "badge",
    )
    assert event.device == "ct-play-1" and event.ts == clock.wall


def test_bad_frames_and_noise_are_dropped() -> None:
    """Noise, a bad checksum, a zero tag and lowercase hex yield nothing; good frames pass."""
    clock = FakeClock()
    dev, outbox = make(clock)
    dev.received(b"\xff\x10noise" + b"\x021A0040B83DDE\x03" + b"\x02000000000000\x03")
    dev.received(b"\x021a0040b83ddf\x03" + b"\x02\x02" + encode(B))
    assert [e.body.badge for e in checkins(outbox)] == ["E3086CED"]
    assert dev.core.counts["checksum"] == 1 and dev.core.counts["zero_tag"] == 1
    assert dev.core.counts["syntax"] == 1 and dev.core.counts["noise_bytes"] > 0


def test_repeats_within_window_collapse_and_window_slides() -> None:
    """Reads of one card less than the window apart are one tap, even for a held card."""
    clock = FakeClock()
    dev, outbox = make(clock)
    dev.received(encode(A) * 3)  # three frames in one read
    for _ in range(10):  # held on the reader for 15 s, a frame every 1.5 s
        clock.advance(1500)
        dev.received(encode(A))
    dev.received(encode(B))  # another card meanwhile is its own tap
    clock.advance(2000)  # taken away for the whole window, then tapped again
    dev.received(encode(A))
    assert [e.body.badge for e in checkins(outbox)] == ["0040B83D", "E3086CED", "0040B83D"]


def test_generated_fault_sequence_gives_exactly_the_expected_checkins() -> None:
    """Over a simulated session with repeats, phantoms, bad checksums and noise, each tap
    with an intact frame is one check-in, in order, and nothing else is accepted."""
    clock = FakeClock()
    dev, outbox = make(clock)
    opts = RfidOptions(
        taps=400, cards=12, seed=7, phantom=0.2, bad_checksum=0.3, noise=0.3, tap_gap_s=2.5
    )
    taps = plan(opts)
    rng = random.Random(3)
    for tap in taps:
        for chunk in tap.chunks:
            cut = rng.randrange(len(chunk.data) + 1)  # reads split frames anywhere
            dev.received(chunk.data[:cut])
            dev.received(chunk.data[cut:])
            clock.advance(round(chunk.pause_s * 1000))
    got = [e.body.badge for e in checkins(outbox)]
    want = expected_badges(taps)
    assert got == want and len(want) > 300
    assert dev.core.counts["zero_tag"] > 0 and dev.core.counts["checksum"] > 0


def test_random_bytes_never_raise_or_invent_badges() -> None:
    """Random bytes (with STX/ETX, seeded: no valid frame among them) never stop the handler."""
    clock = FakeClock()
    dev, outbox = make(clock)
    rng = random.Random(11)
    for _ in range(2000):
        dev.received(bytes(rng.choice(b"\x02\x030123456789ABCDEF\xff") for _ in range(40)))
    assert checkins(outbox) == [] and dev.core.errors() > 1000


def test_reconnect_records_notice() -> None:
    """A reopened port records a reconnected notice; the first open records nothing."""
    clock = FakeClock()
    dev, outbox = make(clock)
    dev.opened(False)
    dev.closed("lost: EIO")
    dev.opened(True)
    notices = [e for e in outbox.pending(100, 0) if isinstance(e, DeviceNotice)]
    assert [n.body.code for n in notices] == ["reconnected"]


def test_button_press_sets_task_of_next_tap_only() -> None:
    """A button pressed before a tap sets that tap's task once; a stale press is ignored."""
    clock = FakeClock()
    selector = TaskSelector("disinfection", hold_ms=10_000)
    dev, outbox = make(clock, selector=selector)
    selector.press("patrol", clock.mono)
    clock.advance(3000)
    dev.received(encode(A))
    clock.advance(5000)
    dev.received(encode(B))
    selector.press("closing", clock.mono)
    clock.advance(10_001)
    dev.received(encode(A))
    assert [e.body.task for e in checkins(outbox)] == ["patrol", "disinfection", "disinfection"]


def test_repeat_filter_rejects_bad_window() -> None:
    """A repeat window must be positive."""
    with pytest.raises(ValueError):
        RepeatFilter(0)


def test_evdev_records_parse_presses_only() -> None:
    """Only key presses (EV_KEY, value 1) count; releases and a partial record wait."""
    data = encode_press(2) + encode_press(3)
    codes, tail = parse_events(data + data[:5])
    assert codes == [2, 3] and tail == data[:5]


def test_button_reader_thread_presses_from_fifo(tmp_path: Path) -> None:
    """The button thread reads input_event records from a device (here a FIFO)."""
    fifo = tmp_path / "buttons"
    os.mkfifo(fifo)
    pressed: list[str] = []
    done = threading.Event()

    def on_press(task: str) -> None:
        pressed.append(task)
        done.set()

    reader = ButtonReader("ct-1", str(fifo), {3: "patrol"}, on_press)  # type: ignore[arg-type]
    reader.start()
    try:
        fd = os.open(fifo, os.O_WRONLY)  # blocks until the reader opened it
        os.write(fd, encode_press(30) + encode_press(3))
        wait_until(done.is_set, timeout=5)
        os.close(fd)
    finally:
        reader.stop()
    assert pressed == ["patrol"]


def base_config(devices: list[dict[str, object]]) -> dict[str, object]:
    return {
        "agent": {"id": "edge-1", "site": "s1", "data_dir": "data"},
        "mqtt": {},
        "devices": devices,
    }


def test_config_terminals_parse_and_hide_the_secret() -> None:
    """RFID and camera terminals parse; a bad camera secret is reported without its value."""
    rfid = {
        "type": "rfid_reader",
        "id": "ct-1",
        "checkpoint": "kp-1",
        "space": "kids",
        "task": "patrol",
        "port": "/dev/ttyUSB0",
        "buttons": {"device": "/dev/input/event0", "keys": {2: "disinfection"}},
    }
    cam = {
        "type": "qr_camera",
        "id": "cam-1",
        "checkpoint": "kp-2",
        "space": "kids",
        "task": "patrol",
        "source": "/dev/video0",
        "secret": "s3cret-s3cret-s3cret",
    }
    cfg = parse_config(base_config([rfid, cam]))
    assert [d.type for d in cfg.devices] == ["rfid_reader", "qr_camera"]
    assert "s3cret" not in repr(cfg)
    with pytest.raises(ConfigError) as info:
        parse_config(base_config([{**cam, "secret": "short-secret"}]))
    assert "devices[0].secret" in str(info.value) and "short-secret" not in str(info.value)
    with pytest.raises(ConfigError):
        parse_config(base_config([{**rfid, "task": "sweeping"}]))


def test_terminal_example_file_loads() -> None:
    """The commented example of check-in terminals loads, with its buttons and camera."""
    from facility_edge.config import load_config

    path = Path(__file__).resolve().parents[2] / "edge" / "examples" / "checkin-terminals.yaml"
    cfg = load_config(path)
    rfid, cam = cfg.devices
    assert rfid.type == "rfid_reader" and rfid.buttons is not None
    assert rfid.buttons.keys[3] == "patrol"
    assert cam.type == "qr_camera" and cam.decode_hz == 5
