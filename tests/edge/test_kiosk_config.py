"""Health kiosk configuration, the pseudonym key file and the enrolment commands."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from facility_contracts.vitals import pseudonymise
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


SETUP = EXAMPLE.parents[2] / "server" / "examples" / "setup.yaml"


def test_example_file_loads() -> None:
    """The shipped kiosk example is valid: one kiosk of the elderly-care space."""
    cfg = load_config(EXAMPLE)
    (dev,) = cfg.devices
    assert isinstance(dev, HealthKioskConfig)
    assert dev.broker == "mqtt://127.0.0.1:1884" and dev.key_file.is_absolute()
    assert dev.kiosks == {"hk-elderly-care": "elderly-care"}
    assert dev.other_kiosks_space is None and dev.max_clock_ahead_s == 120
    assert cfg.event_devices == ["edge-main", "hk-elderly-care"]


def test_example_ids_are_those_of_the_example_registry() -> None:
    """The kiosk example's site, agent, kiosks and spaces are the example registry's
    (server/examples/setup.yaml): each kiosk a health_kiosk via the agent, in its space."""
    setup = yaml.safe_load(SETUP.read_text())
    devices = {d["code"]: d for d in setup["devices"]}
    cfg = load_config(EXAMPLE)
    assert cfg.agent.site == setup["complex"]["site_id"]
    assert devices[cfg.agent.id]["kind"] == "edge_agent"
    assert cfg.mqtt.username == f"{cfg.agent.site}.{cfg.agent.id}"
    (dev,) = cfg.devices
    assert isinstance(dev, HealthKioskConfig)
    for kiosk, space in dev.kiosks.items():
        registered = devices[kiosk]
        assert (registered["kind"], registered["via"]) == ("health_kiosk", cfg.agent.id)
        assert registered["space"] == space


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


def test_credentials_in_the_broker_url_are_never_shown(tmp_path: Path) -> None:
    """A local broker URL with user and password (refused: they go in username/password)
    is named with them masked; a secret-named field's value is hidden too."""
    dev = kiosk_device(tmp_path / "k", broker="mqtt://edge:secretpw@127.0.0.1:18841")
    text = problems(config([dev]))
    assert "devices[0].broker" in text and "'mqtt://***@127.0.0.1:18841'" in text
    assert "secretpw" not in text
    text = problems(config([kiosk_device(tmp_path / "k", password={"pw": "s3cret"})]))
    assert "devices[0].password" in text and "s3cret" not in text


def test_relative_key_file_is_next_to_the_config(tmp_path: Path) -> None:
    """A relative key_file is relative to the configuration file's folder."""
    path = tmp_path / "edge.yaml"
    path.write_text(
        "agent: {id: edge-1, site: s, data_dir: var}\nmqtt: {host: h}\n"
        "devices:\n  - {type: health_kiosk, id: kr, key_file: keys/p.key, kiosks: {k1: s}}\n"
    )
    (dev,) = load_config(path).devices
    assert isinstance(dev, HealthKioskConfig) and dev.key_file == tmp_path / "keys" / "p.key"


#: The example key and pseudonym of docs/protocols.md ("Pseudonyms").
DOC_CARD, DOC_PSEUDONYM = "3301 0600 1234", "m1-e2ba09ae48e57e95ca9e448ebce4b6fc"


def key_bytes(folder: Path, data: bytes, mode: int = 0o600) -> Path:
    """A key file holding exactly ``data``."""
    path = folder / "bytes.key"
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def test_documented_hex_key_gives_the_documented_pseudonym(tmp_path: Path) -> None:
    """The hex key file of the docs, with whitespace around it or upper-cased, loads as its
    32 bytes and gives the pseudonym computed here with hmac alone (and the docs' one)."""
    for text in (KEY_HEX + "\n", f"  {KEY_HEX}\r\n\n", KEY_HEX.upper()):
        assert load_key(write_key(tmp_path, text)) == KEY
    key = load_key(write_key(tmp_path))
    assert pseudonymise(DOC_CARD, key) == reference_pseudonym(DOC_CARD) == DOC_PSEUDONYM


def test_byte_order_mark_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A UTF-8 byte order mark (Notepad) before the digits gives the same key, and a
    warning naming the file (the review's m1-7e95... came from reading it as raw bytes)."""
    path = key_bytes(tmp_path, b"\xef\xbb\xbf" + KEY_HEX.encode() + b"\r\n")
    assert pseudonymise(DOC_CARD, load_key(path)) == DOC_PSEUDONYM
    assert f"{path}: UTF-8 byte order mark" in caplog.text and KEY_HEX not in caplog.text


def test_raw_key_is_exactly_32_bytes_that_are_not_text(tmp_path: Path) -> None:
    """A file that is not text is a raw binary key of exactly 32 bytes."""
    raw = bytes(range(200, 232))
    assert load_key(key_bytes(tmp_path, raw, 0o640)) == raw
    assert parse_key(raw) == raw


TYPO = KEY_HEX[:20] + "g" + KEY_HEX[21:]  # one digit mistyped


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"0x" + KEY_HEX.encode(), "starts with 0x"),
        (b"0X" + KEY_HEX.encode() + b"\n", "starts with 0x"),
        (KEY_HEX[:-1].encode(), "holds 63 hex digits (an odd number"),
        (KEY_HEX[:-2].encode() + b"\n", "holds 62 hex digits; a key file holds exactly 64"),
        (KEY_HEX.encode() + b"00", "holds 66 hex digits"),
        (KEY_HEX[:30].encode(), "holds 30 hex digits"),
        (TYPO.encode(), "a character that is not a hex digit at character 21"),
        (b"\n  " + TYPO.encode(), "not a hex digit at character 24"),
        ((KEY_HEX[:32] + " " + KEY_HEX[32:]).encode(), "whitespace at character 33"),
        (b"short-raw-key\n", "not a hex digit at character 1"),
        (f"key = {KEY_HEX}\n".encode(), "not a hex digit at character 1"),
        (KEY_HEX.encode("utf-16"), "is UTF-16 text"),
        (f"密钥 {KEY_HEX}".encode(), "not a hex digit at character 1"),
        (b"", "is empty or blank"),
        (b" \n\n", "is empty or blank"),
        (
            bytes(range(200, 220)),
            "holds 20 bytes that are not text; a raw binary key is exactly 32",
        ),
        (bytes(range(200, 233)), "holds 33 bytes that are not text"),
        (KEY_HEX.encode() + b"\x00", "holds 65 bytes that are not text"),
    ],
)
def test_key_file_not_in_the_format_is_refused(tmp_path: Path, data: bytes, problem: str) -> None:
    """A 0x prefix, a digit missing or extra, a typo, inner whitespace, UTF-16, an empty
    file, binary of the wrong size: refused naming the file and the problem, never the
    key (no longer read as other raw bytes giving other pseudonyms)."""
    path = key_bytes(tmp_path, data)
    with pytest.raises(KeyFileError) as err:
        load_key(path)
    text = str(err.value)
    assert text.startswith(f"{path}: pseudonym key file ") and problem in text
    assert KEY_HEX[:16] not in text and KEY_HEX[-16:] not in text


@pytest.mark.parametrize("mode", [0o644, 0o602])
def test_key_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    """A key file readable or writable by others: KeyFileError with its mode, not the key."""
    path = write_key(tmp_path, KEY_HEX, mode)
    with pytest.raises(KeyFileError) as err:
        load_key(path)
    assert str(err.value).startswith(f"{path}: ")
    assert f"open to other users (mode {mode:04o})" in str(err.value)
    assert KEY_HEX not in str(err.value)


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
    or from stdin lines, one output line per input line in order."""
    key = write_key(tmp_path)
    cards = ["3301 0600 1234", "3301-0600-5678"]
    done = runner.invoke(app, ["pseudonym", "--key-file", str(key), *cards])
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [reference_pseudonym(c) for c in cards]
    piped = runner.invoke(app, ["pseudonym", "-k", str(key)], input="\n".join(cards) + "\n")
    assert piped.exit_code == 0 and piped.stdout == done.stdout


def test_pseudonym_output_stays_aligned_with_blank_and_bad_lines(tmp_path: Path) -> None:
    """Blank lines give empty lines and bad cards an error line with their line number, in
    place; every line after them is still handled; exit 2 at the end (the review's
    3 input lines gave 2 output lines, and output stopped at the first bad card)."""
    key = write_key(tmp_path)
    lines = ["3301 0600 1234", "", "33@01#06", "  ", "3301-0600-5678", "12"]
    done = runner.invoke(app, ["pseudonym", "-k", str(key)], input="\n".join(lines) + "\n")
    assert done.exit_code == 2
    assert done.stdout.splitlines() == [
        reference_pseudonym("3301 0600 1234"),
        "",
        "error: card number is not 4-32 letters or digits (line 3)",
        "",
        reference_pseudonym("3301-0600-5678"),
        "error: card number is not 4-32 letters or digits (line 6)",
    ]
    assert "2 bad card number(s), no pseudonym on line(s) 3, 6" in done.stderr
    assert "33@01#06" not in done.output


def test_pseudonym_command_refuses_bad_card_or_key_without_showing_them(tmp_path: Path) -> None:
    """A bad card is named by its line, not shown; an unusable key file exits 2 at once."""
    key = write_key(tmp_path)
    bad = runner.invoke(app, ["pseudonym", "-k", str(key)], input="33010600\n33@01#06\n")
    assert bad.exit_code == 2 and "(line 2)" in bad.stdout and "33@01#06" not in bad.output
    open_key = write_key(tmp_path, mode=0o644)
    refused = runner.invoke(app, ["pseudonym", "-k", str(open_key), "33010600"])
    assert refused.exit_code == 2 and "open to other users" in refused.stderr
    assert KEY_HEX not in refused.output and refused.stdout == ""


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
    assert done.stdout.splitlines() == [
        reference_pseudonym("3301 0600 1234", key),
        "",
        reference_pseudonym("AB12-cd34", key),
    ]
    bad = board("pseudonym", "-k", str(path), stdin="AB12-cd34\n1\n\n")
    assert bad.returncode == 2
    assert bad.stdout.splitlines() == [
        reference_pseudonym("AB12-cd34", key),
        "error: card number is not 4-32 letters or digits (line 2)",
        "",
    ]
    assert board("new-key", "--out", str(path)).returncode == 2
