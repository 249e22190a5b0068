"""Settings: sources, validation, the example file, the fault hook."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from facility_gateway.cli import app, stop_on_signal
from facility_gateway.errors import ConfigError, SettingsError
from facility_gateway.faults import FaultHook
from facility_gateway.settings import load_settings
from typer.testing import CliRunner

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "gateway" / "facility_gateway" / "gateway.example.yaml"
)


def test_example_file_loads() -> None:
    """The commented example file is valid, so it cannot drift from the settings."""
    settings = load_settings(EXAMPLE)
    assert settings.mqtt_username == "gateway"
    assert settings.share_group == "facility-gateways"
    assert settings.min_event_time == datetime(2000, 1, 1, tzinfo=UTC)


def test_example_config_command_prints_the_file() -> None:
    """`facility gateway example-config` prints the shipped example verbatim."""
    result = CliRunner().invoke(app, ["example-config"])
    assert result.exit_code == 0 and result.output == EXAMPLE.read_text()


def test_defaults() -> None:
    """Defaults match the documentation (2000-01-01 UTC, 30 days, 30 s lease)."""
    s = load_settings()
    assert (s.min_event_time, s.dedupe_retention_days, s.claim_lease_s, s.writer) == (
        datetime(2000, 1, 1, tzinfo=UTC),
        30.0,
        30.0,
        "influx",
    )


def test_env_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FACILITY_GATEWAY_* variables win over the YAML file, which wins over defaults."""
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("mqtt_port: 1999\nbatch_size: 500\n")
    monkeypatch.setenv("FACILITY_GATEWAY_BATCH_SIZE", "7")
    s = load_settings(cfg)
    assert (s.mqtt_port, s.batch_size) == (1999, 7)


def test_unknown_yaml_key_refused(tmp_path: Path) -> None:
    """A misspelt key in the file is an error naming file and key, not silently ignored."""
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("mqtt_prot: 1883\n")
    with pytest.raises(SettingsError) as err:
        load_settings(cfg)
    assert str(err.value).startswith(f"{cfg}: mqtt_prot: unknown setting")


def test_missing_file_refused(tmp_path: Path) -> None:
    """A config path that does not exist is reported with the file's name."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SettingsError, match="cannot read") as err:
        load_settings(missing)
    assert str(missing) in str(err.value)


def test_empty_share_group_means_plain_subscription(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty FACILITY_GATEWAY_SHARE_GROUP turns shared subscriptions off."""
    monkeypatch.setenv("FACILITY_GATEWAY_SHARE_GROUP", "")
    assert load_settings().share_group is None


def test_secrets_not_shown() -> None:
    """Passwords and tokens never appear in the settings' repr."""
    s = load_settings(mqtt_password="hunter2", influx_token="tok-secret")  # noqa: S106
    assert "hunter2" not in repr(s) and "tok-secret" not in repr(s)
    assert s.influx_token is not None and s.influx_token.get_secret_value() == "tok-secret"


@pytest.mark.parametrize(
    "bad",
    [
        {"min_event_time": "2000-01-01T00:00:00"},
        {"batch_size": 0},
        {"mqtt_protocol": "3.1"},
        {"fault": "explode"},
        {"writer": "csv"},
    ],
)
def test_invalid_values_refused(bad: dict[str, object]) -> None:
    """Naive times, zero batches, unknown protocols, faults and writers are refused."""
    with pytest.raises(SettingsError) as err:
        load_settings(**bad)
    (field,) = bad
    assert f"settings: {field}: " in str(err.value)


def test_fault_hook_counts_writes() -> None:
    """An unarmed hook never exits; specs other than exit_after_write:N are refused."""
    hook = FaultHook(None)
    for _ in range(3):
        hook.after_write()
    assert hook.writes == 3
    with pytest.raises(ConfigError):
        FaultHook("exit_after_write:0")


def run_cli(*args: str) -> tuple[int, str]:
    """`facility gateway ARGS` in-process: (exit code, stderr)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def test_run_with_invalid_settings_prints_one_line_each(tmp_path: Path) -> None:
    """`run --config` with bad values exits 2: one `FILE: field: message (value ...)` line
    per problem, no traceback."""
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("mqtt_port: 70000\nwriter: csv\nbatch_size: -3\n")
    code, err = run_cli("run", "--config", str(cfg))
    assert code == 2 and "Traceback" not in err
    lines = sorted(err.strip().splitlines())
    assert len(lines) == 3
    assert lines[0].startswith(f"{cfg}: batch_size: ") and lines[0].endswith("(value -3)")
    assert lines[1].startswith(f"{cfg}: mqtt_port: ") and lines[1].endswith("(value 70000)")
    assert lines[2].startswith(f"{cfg}: writer: ") and lines[2].endswith("(value 'csv')")


def test_run_never_prints_secrets_or_unknown_values(tmp_path: Path) -> None:
    """A misspelt password key and a token of the wrong type are named, their values never."""
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("mqtt_passwd: s3cretPW2\ninflux_token: [tok-list-secret]\n")
    code, err = run_cli("run", "--config", str(cfg))
    assert code == 2 and "s3cretPW2" not in err and "tok-list-secret" not in err
    assert f"{cfg}: mqtt_passwd: unknown setting" in err
    assert f"{cfg}: influx_token: " in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mqtt_port: [1883\n", "line 2, column 1: YAML syntax error"),
        ("mqtt_port: 1883\nbatch_size: 10\nmqtt_port: 1884\n", "line 3, column 1: duplicate key"),
    ],
)
def test_run_with_bad_yaml_names_the_line(tmp_path: Path, text: str, expected: str) -> None:
    """A YAML syntax error or a key given twice exits 2 naming the file and the line."""
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(text)
    code, err = run_cli("run", "--config", str(cfg))
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"{cfg}: {expected}")


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    """The duplicate-key error gives the second occurrence's line and the first's."""
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("# comment\nwriter: embedded\n\nwriter: influx\n")
    with pytest.raises(SettingsError) as err:
        load_settings(cfg)
    assert str(err.value) == (
        f"{cfg}: line 4, column 1: duplicate key 'writer' (first given on line 2)"
    )


def test_run_with_gbk_file_says_not_utf8(tmp_path: Path) -> None:
    """A file saved as GBK exits 2 saying it is not UTF-8, with the byte, line and column."""
    cfg = tmp_path / "gw.yaml"
    text = "# gateway\nmqtt_host: 文化站\n"
    cfg.write_bytes(text.encode("gbk"))
    first_bad = "文".encode("gbk")[0]
    code, err = run_cli("run", "--config", str(cfg))
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (
        f"{cfg}: not UTF-8 text: byte 0x{first_bad:02X} at line 2, column 12 "
        f"(offset {len('# gateway') + 1 + len('mqtt_host: ')}); save the file as UTF-8"
    )


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    """A UTF-8 file with a byte order mark (Windows Notepad) loads."""
    cfg = tmp_path / "gw.yaml"
    cfg.write_bytes(b"\xef\xbb\xbfmqtt_port: 1999\n")
    assert load_settings(cfg).mqtt_port == 1999


def test_environment_problem_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad value from FACILITY_GATEWAY_* is reported under the variable's name."""
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("mqtt_port: 1999\n")
    monkeypatch.setenv("FACILITY_GATEWAY_MQTT_PORT", "abc")
    with pytest.raises(SettingsError) as err:
        load_settings(cfg)
    assert str(err.value).startswith("environment FACILITY_GATEWAY_MQTT_PORT: mqtt_port: ")
    assert str(err.value).endswith("(value 'abc')")


def test_top_level_list_refused(tmp_path: Path) -> None:
    """A file whose top level is not a mapping is refused naming the file."""
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("- mqtt_port: 1\n")
    with pytest.raises(SettingsError, match="expected a mapping") as err:
        load_settings(cfg)
    assert str(err.value).startswith(f"{cfg}: ")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"accepted 3\n", "not a stats file: not JSON (line 1, column 1"),
        (b"[1, 2]\n", "not a stats file: expected a JSON object, got a list"),
        (b'{"accepted": 3, "rejected": [1]}', "rejected: expected an object of counts, got a list"),
        (b'{"rejected": {"not_json": "2"}}', "rejected.not_json: expected a number, got a string"),
        ('{"a": "文"}'.encode("gbk"), "not a stats file: not UTF-8 text"),
    ],
)
def test_stats_on_a_bad_file_exits_2(tmp_path: Path, content: bytes, expected: str) -> None:
    """`stats FILE` on non-JSON, a JSON list or wrong types exits 2 with a message."""
    path = tmp_path / "stats.json"
    path.write_bytes(content)
    code, err = run_cli("stats", str(path))
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"{path}: {expected}")


def test_stats_prints_counters(tmp_path: Path) -> None:
    """A well-formed stats file prints each counter and the rejections by reason."""
    path = tmp_path / "stats.json"
    path.write_text('{"accepted": 7, "rejected": {"not_json": 2, "bad_value": 1}}')
    result = CliRunner().invoke(app, ["stats", str(path)])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "accepted  7",
        "rejected  3",
        "  bad_value  1",
        "  not_json  2",
    ]


def test_signal_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """One Ctrl-C delivered twice (terminal and a wrapper) is logged once at INFO."""
    stop = threading.Event()
    handler = stop_on_signal(stop)
    with caplog.at_level(logging.DEBUG, logger="facility_gateway.cli"):
        handler(signal.SIGINT, None)
        handler(signal.SIGINT, None)
    infos = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert stop.is_set() and len(infos) == 1 and "signal 2" in infos[0].getMessage()
