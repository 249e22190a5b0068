"""Health kiosk configuration, the pseudonym key file and the enrolment commands."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from facility_edge.cli import app
from facility_edge.config import HealthKioskConfig, load_config, parse_config
from facility_edge.errors import ConfigError
from facility_edge.pseudonym import KeyFileError, load_key, new_key_file, parse_key
from kiosk_support import KEY, KEY_HEX, kiosk_device, reference_pseudonym, write_key
from typer.testing import CliRunner

EXAMPLE = Path(__file__).resolve().parents[2] / "edge" / "examples" / "kiosk.yaml"


def config(devices: list[dict[str, Any]], data_dir: str = "var") -> dict[str, Any]:
    return {
        "agent": {"id": "edge-1", "site": "site-a", "data_dir": data_dir},
        "mqtt": {"host": "127.0.0.1", "port": 1883},
        "devices": devices,
    }


def problems(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "k.yaml")
    return str(err.value)


def test_example_file_loads() -> None:
    """The shipped kiosk example is valid: two kiosks of the elderly-care space."""
    cfg = load_config(EXAMPLE)
    (dev,) = cfg.devices
    assert isinstance(dev, HealthKioskConfig)
    assert dev.broker == "mqtt://127.0.0.1:1884" and dev.key_file.is_absolute()
    assert dev.kiosks == {"kiosk-elder-1": "elderly-care", "kiosk-elder-2": "elderly-care"}
    assert dev.other_kiosks_space is None and dev.max_clock_ahead_s == 120
    assert cfg.event_devices == ["edge-elderly-1", "kiosk-elder-1", "kiosk-elder-2"]


def test_kiosk_device_needs_kiosks_or_a_space_for_all(tmp_path: Path) -> None:
    """Neither kiosks nor other_kiosks_space is an error naming both."""
    text = problems(config([kiosk_device(tmp_path / "k", kiosks={})]))
    assert "k.yaml: devices[0]" in text and "other_kiosks_space" in text


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        (
            [
                {"type": "door_counter", "id": "kiosk-elder-1", "space": "s", "port": "loop://"},
                {"type": "health_kiosk", "id": "kr", "key_file": "k",
                 "kiosks": {"kiosk-elder-1": "s"}},
            ],
            "kiosk id 'kiosk-elder-1' used twice",
        ),
        (
            [
                {"type": "health_kiosk", "id": "kr1", "key_file": "k", "other_kiosks_space": "a"},
                {"type": "health_kiosk", "id": "kr2", "key_file": "k", "other_kiosks_space": "b"},
            ],
            "other_kiosks_space may be set on one",
        ),
        (
            [{"type": "health_kiosk", "id": "kr", "key_file": "k", "kiosks": {"Kiosk 1": "s"}}],
            "devices[0].kiosks.Kiosk 1",
        ),
        (
            [{"type": "health_kiosk", "id": "kr", "key_file": "k", "kiosks": {"k1": "s"},
              "broker": "mqtts://host:8883"}],
            "devices[0].broker",
        ),
    ],
)  # fmt: skip
def test_kiosk_ids_and_broker_are_checked(devices: list[dict[str, Any]], message: str) -> None:
    """A kiosk id used twice, two catch-all readers, a bad kiosk id or broker URL: named."""
    assert message in problems(config(devices))


def test_local_broker_password_is_never_shown(tmp_path: Path) -> None:
    """A bad local broker password is reported without its value."""
    dev = kiosk_device(tmp_path / "k", password=["s3cret-local"])
    text = problems(config([dev]))
    assert "devices[0].password" in text and "s3cret-local" not in text


def test_relative_key_file_is_next_to_the_config(tmp_path: Path) -> None:
    """A relative key_file is relative to the configuration file's folder."""
    path = tmp_path / "edge.yaml"
    path.write_text(
        "agent: {id: edge-1, site: s, data_dir: var}\nmqtt: {host: h}\n"
        "devices:\n  - {type: health_kiosk, id: kr, key_file: keys/p.key, kiosks: {k1: s}}\n"
    )
    (dev,) = load_config(path).devices
    assert isinstance(dev, HealthKioskConfig) and dev.key_file == tmp_path / "keys" / "p.key"


def test_key_file_hex_or_raw(tmp_path: Path) -> None:
    """Hex text (whitespace around it ignored) is decoded; other bytes are the raw key."""
    assert load_key(write_key(tmp_path, f"  {KEY_HEX}\n")) == KEY
    raw = bytes(range(200, 220))
    path = tmp_path / "raw.key"
    path.write_bytes(raw)
    os.chmod(path, 0o640)
    assert load_key(path) == raw
    assert parse_key(KEY_HEX.upper().encode()) == KEY


@pytest.mark.parametrize(
    ("content", "mode", "problem"),
    [
        (KEY_HEX[:30], 0o600, "holds 15 key bytes (as hex text); at least 16"),
        ("short-raw-key", 0o600, "holds 13 key bytes (raw)"),
        (KEY_HEX, 0o644, "open to other users (mode 0644)"),
        (KEY_HEX, 0o602, "open to other users (mode 0602)"),
    ],
)
def test_unusable_key_files_are_refused(
    tmp_path: Path, content: str, mode: int, problem: str
) -> None:
    """Too short (hex or raw) or open to others: KeyFileError naming the file, not the key."""
    path = write_key(tmp_path, content, mode)
    with pytest.raises(KeyFileError) as err:
        load_key(path)
    assert str(err.value).startswith(f"{path}: ") and problem in str(err.value)
    assert content not in str(err.value)


def test_missing_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    """A missing key file names the command that makes one; a folder is not a key file."""
    with pytest.raises(KeyFileError, match="facility edge new-key"):
        load_key(tmp_path / "none.key")
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key(tmp_path)


def test_new_key_file_is_private_hex_and_never_overwritten(tmp_path: Path) -> None:
    """A new key file is mode 0600, 64 hex digits, loads as 32 bytes; a second write fails."""
    path = tmp_path / "p.key"
    new_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert len(text.strip()) == 64 and len(load_key(path)) == 32
    with pytest.raises(KeyFileError, match="never overwritten"):
        new_key_file(path)
    assert path.read_text() == text


runner = CliRunner()


def test_pseudonym_command_prints_the_hmac_for_arguments_and_stdin(tmp_path: Path) -> None:
    """`facility edge pseudonym` gives the reference pseudonym of each card, from arguments
    or from stdin lines (blank lines skipped), one per line in order."""
    key = write_key(tmp_path)
    cards = ["3301 0600 1234", "3301-0600-5678"]
    done = runner.invoke(app, ["pseudonym", "--key-file", str(key), *cards])
    assert done.exit_code == 0, done.output
    assert done.stdout.split() == [reference_pseudonym(c) for c in cards]
    piped = runner.invoke(app, ["pseudonym", "-k", str(key)], input="\n".join([*cards, "", ""]))
    assert piped.exit_code == 0 and piped.stdout.split() == done.stdout.split()


def test_pseudonym_command_refuses_bad_card_or_key_without_showing_them(tmp_path: Path) -> None:
    """A bad card is named by its position, not shown; an unusable key file exits 2."""
    key = write_key(tmp_path)
    bad = runner.invoke(app, ["pseudonym", "-k", str(key)], input="33010600\n33@01#06\n")
    assert bad.exit_code == 2 and "card 2:" in bad.stderr and "33@01#06" not in bad.output
    open_key = write_key(tmp_path, mode=0o644)
    refused = runner.invoke(app, ["pseudonym", "-k", str(open_key), "33010600"])
    assert refused.exit_code == 2 and "open to other users" in refused.stderr
    assert KEY_HEX not in refused.output


def test_new_key_command_writes_a_usable_key(tmp_path: Path) -> None:
    """`facility edge new-key --out F` makes a key file; the second time exits 2."""
    path = tmp_path / "p.key"
    assert runner.invoke(app, ["new-key", "--out", str(path)]).exit_code == 0
    assert len(load_key(path)) == 32
    again = runner.invoke(app, ["new-key", "--out", str(path)])
    assert again.exit_code == 2 and "never overwritten" in again.stderr


def test_check_and_run_refuse_a_missing_key_file(tmp_path: Path) -> None:
    """`facility edge check` and the agent process exit 2 naming the missing key file."""
    path = tmp_path / "edge.yaml"
    path.write_text(
        f"agent: {{id: edge-1, site: s, data_dir: {tmp_path / 'var'}}}\nmqtt: {{host: h}}\n"
        "devices:\n  - {type: health_kiosk, id: kr, key_file: nokey, kiosks: {k1: s}}\n"
    )
    check = runner.invoke(app, ["check", "--config", str(path)])
    assert (
        check.exit_code == 2 and f"{tmp_path / 'nokey'}: pseudonym key file missing" in check.stderr
    )
    agent = subprocess.run(
        [sys.executable, "-m", "facility_edge", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert agent.returncode == 2 and "pseudonym key file missing" in agent.stderr
    write_key(tmp_path).rename(tmp_path / "nokey")
    ok = runner.invoke(app, ["check", "--config", str(path)])
    assert ok.exit_code == 0 and "kr (health_kiosk on mqtt://127.0.0.1:1884)" in ok.stdout


def test_board_commands_without_the_facility_cli(tmp_path: Path) -> None:
    """`python -m facility_edge new-key` and `pseudonym` work where only facility-edge is
    installed (a Raspberry Pi): same key format, same pseudonyms as the reference."""
    path = tmp_path / "board.key"

    def board(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "facility_edge", *args]
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)

    made = board("new-key", "--out", str(path))
    assert made.returncode == 0 and stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_key(path)
    done = board("pseudonym", "-k", str(path), stdin="3301 0600 1234\n\nAB12-cd34\n")
    assert done.returncode == 0
    assert done.stdout.split() == [
        reference_pseudonym("3301 0600 1234", key),
        reference_pseudonym("AB12-cd34", key),
    ]
    assert board("new-key", "--out", str(path)).returncode == 2
