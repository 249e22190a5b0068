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
from facility_edge.errors import ConfigError, mask_userinfo

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
    assert (cfg.outbox.max_inflight, cfg.outbox.ack_timeout_s) == (300, 30.0)


def test_unknown_key_names_file_and_field_but_not_value(tmp_path: Path) -> None:
    """An unknown key is rejected as `FILE: dotted.path: ...`, without its value (it may
    be a misspelt secret)."""
    data = minimal()
    data["mqtt"]["passwrd"] = "s3cretPW2"  # noqa: S105 - a test value
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: mqtt.passwrd: unknown key (not allowed here; check the spelling)"
    )


def test_bad_value_is_one_line_with_file_field_and_value(tmp_path: Path) -> None:
    """A bad value gives one line: `FILE: field: message (value ...)`."""
    data = minimal()
    data["mqtt"]["port"] = 70000
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: mqtt.port: ")
    assert text.endswith("(value 70000)")


def test_section_holding_a_secret_is_not_echoed(tmp_path: Path) -> None:
    """A device without its type is refused without printing the mapping (and its secret)."""
    data = minimal()
    data["devices"] = [
        {"id": "cam-1", "checkpoint": "cp", "space": "hall", "source": "0", "secret": "q" * 20}
    ]
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, data))
    assert "devices[0]" in str(err.value) and "q" * 20 not in str(err.value)


def test_bad_device_field_names_list_index(tmp_path: Path) -> None:
    """A bad device field is reported as devices[i].field with its value."""
    data = minimal()
    data["devices"][0]["baudrate"] = -5
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, data))
    assert "devices[0].baudrate" in str(err.value) and "-5" in str(err.value)


def test_unknown_device_type_is_rejected(tmp_path: Path) -> None:
    """A device of an unknown kind is rejected at devices[i].type, naming the kind and the
    allowed kinds."""
    data = minimal()
    data["devices"][0]["type"] = "thermometer"
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: devices[0].type: unknown device type (allowed: door_counter, rfid_reader, "
        "qr_camera, health_kiosk) (value 'thermometer')"
    )


def test_duplicate_device_ids_are_rejected() -> None:
    """Two devices with one id, or a device named like the agent: the later one's
    ``devices[i].id`` is named with the place that already bears the id."""
    data = minimal()
    first = data["devices"][0]
    data["devices"] += [{**first, "port": "/dev/ttyUSB7"}, {**first, "id": data["agent"]["id"]}]
    data["devices"][2]["port"] = "/dev/ttyUSB8"
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="edge.yaml")
    dev, agent = first["id"], data["agent"]["id"]
    assert str(err.value).splitlines() == [
        f"edge.yaml: devices[1].id: already the id of devices[0].id (value {dev!r})",
        f"edge.yaml: devices[2].id: already the id of agent.id (value {agent!r})",
    ]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and the line."""
    path = write(tmp_path, "agent:\n  id: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and "line " in str(err.value)


def test_duplicate_key_names_the_second_line(tmp_path: Path) -> None:
    """A key given twice in one mapping is refused at its second line, naming the first."""
    text = (
        "agent: {id: edge-1, site: site-a, data_dir: d}\n"  # line 1
        "mqtt:\n"  # line 2
        "  port: 1883\n"  # line 3
        "  host: 127.0.0.1\n"  # line 4
        "  port: 1884\n"  # line 5
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: line 5, column 3: duplicate key 'port' (first given on line 3)"
    )


def test_duplicate_key_inside_a_device_is_refused(tmp_path: Path) -> None:
    """Duplicates are found in nested mappings too (a device in the list)."""
    text = (
        "agent: {id: edge-1, site: site-a, data_dir: d}\n"
        "mqtt: {host: h}\n"
        "devices:\n"
        "  - {type: door_counter, id: dc-1, space: hall, port: /dev/a, port: /dev/b}\n"
    )
    with pytest.raises(ConfigError, match=r"line 4, column \d+: duplicate key 'port'"):
        load_config(write(tmp_path, text))


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    """A key that overrides one merged in with `<<:` is not a duplicate."""
    text = (
        "agent: {id: edge-1, site: site-a, data_dir: d}\n"
        "mqtt: {host: h}\n"
        "devices:\n"
        "  - &dc {type: door_counter, id: dc-1, space: hall, port: /dev/a, baudrate: 9600}\n"
        "  - {<<: *dc, id: dc-2, port: /dev/b, baudrate: 19200}\n"
    )
    cfg = load_config(write(tmp_path, text))
    assert [(d.id, d.port, d.baudrate) for d in cfg.devices] == [
        ("dc-1", "/dev/a", 9600),
        ("dc-2", "/dev/b", 19200),
    ]


def test_gbk_file_is_reported_not_utf8(tmp_path: Path) -> None:
    """A file saved as GBK is refused saying it is not UTF-8, with byte, line and column."""
    lines = ["agent: {id: edge-1, site: site-a, data_dir: d}", "mqtt: {host: h}", "# 文化站 入口"]
    raw = "\n".join(lines).encode("gbk")
    path = tmp_path / "edge.yaml"
    path.write_bytes(raw)
    offset = len(lines[0]) + 1 + len(lines[1]) + 1 + len("# ")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: not UTF-8 text: byte 0x{raw[offset]:02X} at line 3, column 3 "
        f"(offset {offset}); save the file as UTF-8"
    )


def test_utf8_with_bom_and_chinese_comments_loads(tmp_path: Path) -> None:
    """A UTF-8 file with a byte order mark and Chinese comments is fine."""
    path = tmp_path / "edge.yaml"
    text = yaml.safe_dump(minimal(), allow_unicode=True) + "# 文化站\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_config(path).agent.id == "edge-1"


def test_empty_file_says_so(tmp_path: Path) -> None:
    """An empty file is reported as empty, not as a type error."""
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config(write(tmp_path, ""))


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


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("mqtt://edge:secretpw@127.0.0.1:18841", "mqtt://***@127.0.0.1:18841"),
        ("'rtsp://admin:p@ss/w0rd@cam-1/stream'", "'rtsp://***@cam-1/stream'"),
        ("MQTT://edge@h:1 and mqtt://a:b@k", "MQTT://***@h:1 and mqtt://***@k"),
        ("mqtt://127.0.0.1:1884", "mqtt://127.0.0.1:1884"),
        ("ops@example.org", "ops@example.org"),
    ],
)
def test_mask_userinfo_hides_user_and_password_of_urls(text: str, shown: str) -> None:
    """Every URL's user information (up to its last @) becomes ***; the rest stays."""
    assert mask_userinfo(text) == shown


def test_url_with_a_password_in_an_error_is_masked(tmp_path: Path) -> None:
    """A broker URL with credentials in a field that refuses it is named, with the user
    and password masked (the review saw 'mqtt://edge:secretpw@...' printed)."""
    data = minimal()
    data["mqtt"]["port"] = "mqtt://edge:secretpw@127.0.0.1:18841"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, data))
    text = str(err.value)
    assert "mqtt.port" in text and "mqtt://***@127.0.0.1:18841" in text
    assert "secretpw" not in text and "edge:" not in text
    assert all("secretpw" not in p for p in err.value.problems)


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


def test_cli_check_and_run_on_a_gbk_file_exit_2_without_traceback(tmp_path: Path) -> None:
    """`facility edge check` and `run` on a non-UTF-8 file print one line and exit 2."""
    path = tmp_path / "edge.yaml"
    before = "agent: {id: edge-1, site: "
    path.write_bytes(f"{before}文化站, data_dir: d}}\n".encode("gbk"))
    for command in ("check", "run"):
        done = run_cli(command, "--config", str(path))
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.startswith(f"{path}: not UTF-8 text: byte 0x")
        assert f"line 1, column {len(before) + 1}" in done.stderr


def test_run_help_is_user_facing() -> None:
    """`facility edge run --help` describes the command, not how it is implemented."""
    done = run_cli("run", "--help")
    assert done.returncode == 0 and "SIGTERM" in done.stdout
    assert "-OO" not in done.stdout and "facility_edge" not in done.stdout
