"""``facility sim door-counter`` as a process: expect file, replay, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import serial
import typer
from facility_sim.cli import app, parse_duration
from typer.testing import CliRunner

from .helpers import SHANGHAI, ReferenceReader, SerialCollector, csv_slots


def _sim(*args: str | Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "facility_cli.main", "sim", "door-counter", *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_link(link: Path, proc: subprocess.Popen[str], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not link.is_symlink():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no link {link}: {proc.communicate()}")
        time.sleep(0.02)


def test_entry_point_registered() -> None:
    """The facility.cli entry point 'sim' loads this package's Typer app."""
    (ep,) = [ep for ep in entry_points(group="facility.cli") if ep.name == "sim"]
    assert ep.value == "facility_sim.cli:app"
    assert isinstance(ep.load(), typer.Typer)


def test_help_names_every_kind_of_device() -> None:
    """``facility sim --help`` names each simulated device it has a command for, and the
    commands are exactly those five."""
    commands = {c.name for c in app.registered_commands}
    assert commands == {"door-counter", "satisfaction", "rfid-reader", "camera-video", "kiosk"}
    words = " ".join(app.info.help.split())  # type: ignore[union-attr]
    for kind in ("door counters", "RFID readers", "satisfaction terminals", "health kiosks"):
        assert kind in words
    assert "camera scenes as a video file" in words


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1w", 604800), ("7d", 604800), ("36h", 129600), ("90m", 5400), ("0.5h", 1800)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    """--limit accepts a number and one of s, m, h, d, w."""
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "7", "-1d", "0d", "1y", "1 w x"])
def test_parse_duration_rejects(text: str) -> None:
    """Anything else is a bad --limit, named in the message."""
    with pytest.raises(typer.BadParameter, match="--limit"):
        parse_duration(text)


def test_one_day_with_power_cycles_matches_expect_file(tmp_path: Path, calit2_path: Path) -> None:
    """A day at max speed with power cycles and modulus 50: the reader's slots equal --expect's."""
    link, expect = tmp_path / "dc", tmp_path / "expect.json"
    proc = _sim(
        *("--link", link, "--calit2", calit2_path, "--max-speed", "--settle", "0.05"),
        *("--start", "2005-08-02", "--limit", "1d", "--expect", expect),
        *("--power-cycle-every", "7000", "--modulus", "50"),
    )
    _wait_link(link, proc)
    reader = SerialCollector(link)
    out, err = proc.communicate(timeout=20)
    reader.close()
    assert proc.returncode == 0, err
    assert "finished" in out and f"power cycles {86400 // 7000}" in out
    data = json.loads(expect.read_text())
    day_ms = int(datetime(2005, 8, 2, tzinfo=SHANGHAI).timestamp() * 1000)
    oracle = {k: v for k, v in csv_slots(calit2_path).items() if day_ms <= k < day_ms + 86_400_000}
    assert len(data["slots"]) == len(oracle) == 48
    assert data["totals"] == {
        "in": sum(v[0] for v in oracle.values()),
        "out": sum(v[1] for v in oracle.values()),
    }
    assert data["days"] == {"2005-08-02": data["totals"]}
    expected = {
        s["start_ms"]: [s["in"], s["out"]] for s in data["slots"].values() if s["in"] or s["out"]
    }
    assert ReferenceReader(modulus=50).feed_all(reader.frames).nonzero() == expected
    assert sum(f.seq == 0 and f.uptime_s == 0 for f in reader.frames) == 1 + 86400 // 7000


def test_signals_power_cycle_unplug_and_terminate(tmp_path: Path, calit2_path: Path) -> None:
    """SIGUSR2 sends a boot frame, SIGUSR1 fails the reader and replugs, SIGTERM exits cleanly."""
    link = tmp_path / "dc"
    proc = _sim(
        "--link",
        link,
        "--calit2",
        calit2_path,
        "--speed",
        "3600",
        "--settle",
        "0.05",
        "--unplug-for",
        "0.3",
    )
    try:
        _wait_link(link, proc)
        reader = SerialCollector(link)
        assert reader.wait_for(3)
        proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 5
        while sum(f.seq == 0 for f in reader.frames) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sum(f.seq == 0 and f.uptime_s == 0 for f in reader.frames) == 2
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while reader.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert isinstance(reader.error, serial.SerialException)
        reader.close()
        _wait_link(link, proc)
        second = SerialCollector(link)
        assert second.wait_for(2)
        second.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "unplugs 1" in out
    assert not os.path.lexists(link)


def test_bad_zone_is_a_usage_error(tmp_path: Path, calit2_path: Path) -> None:
    """An unknown --site-tz exits 2 naming the option and value."""
    proc = _sim("--link", tmp_path / "dc", "--calit2", calit2_path, "--site-tz", "Mars/Olympus")
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 2
    assert "--site-tz" in err and "Mars/Olympus" in err


def test_malformed_file_names_line(tmp_path: Path) -> None:
    """A malformed CSV exits 2 with the line number and field."""
    bad = tmp_path / "bad.csv"
    bad.write_text("9,07/24/05,00:00:00,1\n7,07/24/05,00:00:00,x\n")
    proc = _sim("--link", tmp_path / "dc", "--calit2", bad)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 2
    assert "line 2" in err and "count" in err


def _sim_inline(*args: str | Path) -> tuple[int, str]:
    """`facility sim ARGS` in-process (for commands that fail before any pty): (code, stderr)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def test_non_ascii_file_names_file_line_and_byte(tmp_path: Path) -> None:
    """A CSV with a non-ASCII byte (GBK here) exits 2 naming the file, line and byte."""
    bad = tmp_path / "gbk.csv"
    lines = ["9,07/24/05,00:00:00,1", "7,07/24/05,00:00:00,1", "9,07/24/05,00:30:00,1 人"]
    raw = "\n".join(lines).encode("gbk")
    bad.write_bytes(raw)
    column = lines[2].index("人") + 1  # only ASCII before it: chars and bytes agree
    first_bad = "人".encode("gbk")[0]
    code, err = _sim_inline("door-counter", "--link", tmp_path / "dc", "--calit2", bad)
    assert code == 2 and "Traceback" not in err and "codec" not in err
    assert err.startswith(f"facility sim door-counter: {bad}: line 3: field row")
    assert f"not ASCII text (byte 0x{first_bad:02X} at column {column})" in err


def test_empty_file_says_it_has_no_rows(tmp_path: Path) -> None:
    """An empty CSV exits 2 saying the file has no rows, not blaming --start/--limit."""
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\n\n")
    code, err = _sim_inline("door-counter", "--link", tmp_path / "dc", "--calit2", empty)
    assert code == 2 and f"{empty}: the file has no rows" in err
    assert "--start" not in err and "--limit" not in err


@pytest.mark.parametrize("command", [["door-counter", "--calit2", "x.csv"], ["rfid-reader"]])
def test_link_in_a_missing_folder_is_refused(tmp_path: Path, command: list[str]) -> None:
    """--link in a folder that does not exist exits 2 and creates no folder."""
    link = tmp_path / "nodir" / "x" / "dc"
    code, err = _sim_inline(*command, "--link", link)
    assert code == 2 and f"folder {link.parent} does not exist" in err
    assert not (tmp_path / "nodir").exists()
