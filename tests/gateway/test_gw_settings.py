"""Settings: sources, validation, the example file, the fault hook."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from facility_gateway.cli import app
from facility_gateway.errors import ConfigError
from facility_gateway.faults import FaultHook
from facility_gateway.settings import load_settings
from pydantic import ValidationError
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
    """A misspelt key in the file is an error, not silently ignored."""
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("mqtt_prot: 1883\n")
    with pytest.raises(ValidationError, match="mqtt_prot"):
        load_settings(cfg)


def test_missing_file_refused(tmp_path: Path) -> None:
    """A config path that does not exist is reported."""
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "nope.yaml")


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
    with pytest.raises(ValidationError):
        load_settings(**bad)


def test_fault_hook_counts_writes() -> None:
    """An unarmed hook never exits; specs other than exit_after_write:N are refused."""
    hook = FaultHook(None)
    for _ in range(3):
        hook.after_write()
    assert hook.writes == 3
    with pytest.raises(ConfigError):
        FaultHook("exit_after_write:0")
