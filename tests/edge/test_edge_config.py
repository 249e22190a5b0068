"""Configuration: the example loads, errors name file, field and value, secrets stay hidden."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from facility_edge.config import EdgeConfig, json_schema, load_config, parse_config
from facility_edge.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "edge" / "examples" / "edge.yaml"


def minimal(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "agent": {"id": "edge-1", "site": "site-a", "data_dir": "var/edge"},
        "mqtt": {"host": "127.0.0.1", "port": 1883},
        "devices": [{"type": "door_counter", "id": "dc-1", "space": "hall", "port": "loop://"}],
    }
    data.update(over)
    return data


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_example_file_loads() -> None:
    """The shipped commented example is a valid configuration."""
    cfg = load_config(EXAMPLE)
    assert cfg.agent.site == "xh-wenhua"
    assert [d.id for d in cfg.devices] == ["dc-main-entrance", "dc-side-door"]
    assert cfg.devices[1].clock == "device" and cfg.devices[1].baudrate == 9600
    assert cfg.mqtt.password is not None and cfg.mqtt.password.get_secret_value() == "change-me"


def test_defaults() -> None:
    """Omitted fields take their documented defaults."""
    cfg = parse_config(minimal())
    dev = cfg.devices[0]
    assert (dev.baudrate, dev.total_modulus, dev.clock) == (9600, 2**32, "edge")
    assert cfg.client_id == "edge-edge-1"
    assert (cfg.mqtt.protocol, cfg.mqtt.keepalive_s) == ("3.1.1", 30)
    assert (cfg.outbox.max_inflight, cfg.outbox.ack_timeout_s) == (100, 30.0)


def test_unknown_key_names_file_field_and_value(tmp_path: Path) -> None:
    """An unknown key is rejected with the file, the dotted field path and the value."""
    data = minimal()
    data["mqtt"]["hots"] = "broker.local"
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert str(path) in text and "mqtt.hots" in text and "'broker.local'" in text


def test_bad_device_field_names_list_index(tmp_path: Path) -> None:
    """A bad device field is reported as devices[i].field with its value."""
    data = minimal()
    data["devices"][0]["baudrate"] = -5
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, data))
    assert "devices[0].baudrate" in str(err.value) and "-5" in str(err.value)


def test_unknown_device_type_is_rejected(tmp_path: Path) -> None:
    """A device of an unknown kind is rejected naming the kind."""
    data = minimal()
    data["devices"][0]["type"] = "thermometer"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, data))
    assert "devices[0]" in str(err.value) and "thermometer" in str(err.value)


def test_duplicate_device_ids_are_rejected() -> None:
    """Two devices with one id (or a device named like the agent) are rejected."""
    data = minimal()
    data["devices"].append(dict(data["devices"][0]))
    with pytest.raises(ConfigError, match="used twice"):
        parse_config(data)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and the line."""
    path = write(tmp_path, "agent:\n  id: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and "line " in str(err.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A missing file is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_password_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The password appears neither in the model's repr nor in a validation error."""
    data = minimal()
    hidden = "hunter2-secret"
    data["mqtt"].update(username="u", password=hidden)
    cfg = parse_config(data)
    assert hidden not in repr(cfg) and hidden not in str(cfg.mqtt)
    data["mqtt"]["password"] = [hidden]
    data["mqtt"]["port"] = 0
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, data))
    assert hidden not in str(err.value) and hidden not in caplog.text
    assert "mqtt.password" in str(err.value)


def test_relative_data_dir_is_next_to_the_file(tmp_path: Path) -> None:
    """A relative data_dir is resolved against the configuration file's folder."""
    data = minimal()
    data["agent"]["data_dir"] = "var/edge"
    cfg = load_config(write(tmp_path, data))
    assert cfg.agent.data_dir == tmp_path.resolve() / "var" / "edge"


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = [
        (f"{name}.{key}", prop)
        for name, model in schema["$defs"].items()
        for key, prop in model.get("properties", {}).items()
    ]
    return out + [(f"EdgeConfig.{k}", p) for k, p in schema["properties"].items()]


def test_every_field_has_a_description() -> None:
    """Every field of every section carries a description in the JSON schema."""
    schema = json.loads(json_schema())
    missing = [name for name, prop in _properties(schema) if not prop.get("description")]
    assert missing == []
    assert EdgeConfig.model_config.get("extra") == "forbid"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from facility_cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, "edge", *args], capture_output=True, text=True, timeout=60
    )


def test_cli_schema_check_and_errors(tmp_path: Path) -> None:
    """`facility edge schema` prints JSON; `check` exits 0 on the example and 2 on a bad file."""
    schema = run_cli("schema")
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"] == "EdgeConfig"
    ok = run_cli("check", "--config", str(EXAMPLE))
    assert ok.returncode == 0 and "ok" in ok.stdout and "change-me" not in ok.stdout
    data = minimal()
    data["outbox"] = {"max_inflight": 0}
    bad = run_cli("check", "--config", str(write(tmp_path, data)))
    assert bad.returncode == 2 and "outbox.max_inflight" in bad.stderr
