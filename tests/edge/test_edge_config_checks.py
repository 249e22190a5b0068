"""Configuration problems `check` used to accept and `run` then tripped over: two devices
on one serial port, an unusable agent.data_dir, malformed pyserial URLs, a bad device type.
Each is refused with one line `FILE: field: problem (value ...)`, by `check` and `run`."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import serial
import yaml
from facility_edge import config_checks
from facility_edge.config import load_config, parse_config
from facility_edge.errors import ConfigError
from facility_edge.run import check_config, load_checked

#: pyserial's URL handlers, listed from its package folder (protocol_<scheme>.py).
PYSERIAL_SCHEMES = sorted(
    p.stem.removeprefix("protocol_")
    for p in (Path(serial.__file__).parent / "urlhandler").glob("protocol_*.py")
)
KNOWN = ", ".join(f"{s}://" for s in PYSERIAL_SCHEMES)


def door(dev_id: str, port: str) -> dict[str, Any]:
    return {"type": "door_counter", "id": dev_id, "space": "hall", "port": port}


def rfid(dev_id: str, port: str) -> dict[str, Any]:
    return {
        "type": "rfid_reader",
        "id": dev_id,
        "checkpoint": "kp-1",
        "space": "hall",
        "task": "patrol",
        "port": port,
    }


def config(devices: list[Any], data_dir: str = "var/edge") -> dict[str, Any]:
    return {
        "agent": {"id": "edge-1", "site": "site-a", "data_dir": data_dir},
        "mqtt": {"host": "127.0.0.1", "port": 1883},
        "devices": devices,
    }


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "edge.yaml")
    return err.value.problems


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def edge(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "facility_edge", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


# --- two devices on one serial port -------------------------------------------------------


def test_second_device_on_a_port_names_the_first() -> None:
    """The second device on a port is refused at devices[i].port, naming the first."""
    data = config([door("dc-1", "/dev/ttyUSB0"), door("dc-2", "/dev/ttyUSB0")])
    assert problems(data) == [
        "devices[1].port: already read by device 'dc-1' (devices[0].port); two readers "
        "of one port would each count all its traffic (value '/dev/ttyUSB0')"
    ]


def test_symlink_and_its_target_are_one_port(tmp_path: Path) -> None:
    """A /dev/serial/by-id style symlink and the device it points to are one port, across
    device types (a door counter and an RFID reader)."""
    tty = tmp_path / "ttyUSB0"
    tty.touch()
    link = tmp_path / "by-id" / "usb-FTDI_A9XK3L2-if00-port0"
    link.parent.mkdir()
    link.symlink_to(tty)
    data = config([door("dc-1", str(link)), rfid("rf-1", f"{tmp_path}/./ttyUSB0")])
    assert problems(data) == [
        f"devices[1].port: already read by device 'dc-1' (devices[0].port '{link}', both "
        f"{tty}); two readers of one port would each count all its traffic "
        f"(value '{tmp_path}/./ttyUSB0')"
    ]


@pytest.mark.parametrize(
    ("first", "second", "key"),
    [
        ("/dev/ttyUSB0", "/dev//ttyUSB0", "/dev/ttyUSB0"),
        ("/dev/ttyUSB0", "spy:///dev/ttyUSB0?color", "/dev/ttyUSB0"),
        ("alt:///dev/ttyS0?class=PosixPollSerial", "/dev/ttyS0", "/dev/ttyS0"),
        ("socket://Conv-1:4001", "rfc2217://conv-1:4001?poll_modem", "tcp://conv-1:4001"),
    ],
)
def test_one_port_under_two_names(first: str, second: str, key: str) -> None:
    """A normalised path, a spy:// or alt:// wrapper of a port, and one TCP server named
    by socket:// and rfc2217:// are each one port."""
    data = config([door("dc-1", first), door("dc-2", second)])
    assert problems(data) == [
        f"devices[1].port: already read by device 'dc-1' (devices[0].port {first!r}, both "
        f"{key}); two readers of one port would each count all its traffic "
        f"(value {second!r})"
    ]


def test_every_later_device_on_a_port_is_reported() -> None:
    """Three devices on one port: the second and the third are reported, each naming the first."""
    data = config([door("dc-1", "/dev/a"), rfid("rf-1", "/dev/b"), door("dc-2", "/dev/a")])
    data["devices"].append(rfid("rf-2", "/dev/a"))
    assert [p.split(" (devices")[0] for p in problems(data)] == [
        "devices[2].port: already read by device 'dc-1'",
        "devices[3].port: already read by device 'dc-1'",
    ]


def test_distinct_ports_and_loopbacks_are_accepted() -> None:
    """Different ports, and loop:// (each open is its own loopback), are fine."""
    ports = ["/dev/ttyUSB0", "/dev/ttyUSB1", "socket://conv-1:4001", "socket://conv-1:4002"]
    devices = [door(f"dc-{i}", p) for i, p in enumerate(ports)]
    devices += [door("dc-l1", "loop://"), rfid("rf-l2", "loop://")]
    assert [d.id for d in parse_config(config(devices)).devices] == [d["id"] for d in devices]


def test_check_refuses_a_shared_port_with_exit_2(tmp_path: Path) -> None:
    """`python -m facility_edge check` prints the problem line and exits 2."""
    path = write(tmp_path, config([door("dc-1", "/dev/ttyUSB0"), door("dc-2", "/dev/ttyUSB0")]))
    done = edge("check", "--config", str(path))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"{path}: devices[1].port: already read by device 'dc-1' (devices[0].port); two "
        "readers of one port would each count all its traffic (value '/dev/ttyUSB0')\n"
    )


# --- pyserial URLs ------------------------------------------------------------------------


def test_pyserial_schemes_are_pyserials_own() -> None:
    """The known schemes are the handler modules pyserial ships (3.5: seven of them)."""
    assert sorted(config_checks.url_schemes()) == PYSERIAL_SCHEMES
    assert {"socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110"} <= set(PYSERIAL_SCHEMES)


@pytest.mark.parametrize(
    ("port", "problem"),
    [
        (
            "foo://bar",
            f"unknown pyserial URL scheme 'foo://' (known: {KNOWN}; or a device path such "
            "as /dev/ttyUSB0)",
        ),
        (
            "socket://nohost.invalid:x",
            "expected socket://HOST:PORT: port 'x' is not a number from 1 to 65535",
        ),
        ("socket://conv-1", "expected socket://HOST:PORT: no port"),
        ("socket://conv-1:", "expected socket://HOST:PORT: no port"),
        ("socket://:4001", "expected socket://HOST:PORT: no host"),
        (
            "socket://conv-1:0",
            "expected socket://HOST:PORT: port '0' is not a number from 1 to 65535",
        ),
        (
            "socket://conv-1:65536",
            "expected socket://HOST:PORT: port '65536' is not a number from 1 to 65535",
        ),
        (
            "rfc2217://[::1]:-1",
            "expected rfc2217://HOST:PORT: port '-1' is not a number from 1 to 65535",
        ),
        (
            "socket://conv-1:4001?logging=loud",
            "logging='loud': expected one of debug, info, warning, error",
        ),
        (
            "socket://conv-1:4001?timeout=3",
            "unknown option 'timeout' of socket:// (allowed: logging)",
        ),
        ("rfc2217://conv-1:2217?timeout=soon", "timeout='soon': expected a number of seconds"),
        ("spy://", "expected spy://PORT: no port (e.g. spy:///dev/ttyUSB0)"),
        ("alt:///dev/ttyUSB0?class=Nope", "alt://: unknown class: 'Nope'"),
    ],
)
def test_bad_pyserial_url_is_refused(port: str, problem: str) -> None:
    """A URL pyserial would refuse (or fail to connect with) on every retry is refused at load."""
    assert problems(config([door("dc-1", port)])) == [
        f"devices[0].port: {problem} (value {port!r})"
    ]


def test_rfid_reader_port_is_checked_too() -> None:
    """The RFID reader's port goes through the same check as the door counter's."""
    assert problems(config([rfid("rf-1", "socket://conv-1")])) == [
        "devices[0].port: expected socket://HOST:PORT: no port (value 'socket://conv-1')"
    ]


@pytest.mark.parametrize(
    "port",
    [
        "/dev/serial/by-id/usb-FTDI_FT232R_A9XK3L2-if00-port0",
        "COM3",
        "socket://192.168.10.21:4001",
        "SOCKET://conv-1:1?logging=debug",
        "rfc2217://[::1]:2217?timeout=3&poll_modem&ign_set_control",
        "loop://?logging=info",
        "spy:///dev/ttyUSB0?color&raw&all",
        "alt:///dev/ttyUSB0?class=PosixPollSerial",
        "hwgrep://0403:6001",
    ],
)
def test_good_ports_are_accepted(port: str) -> None:
    """Device paths and well-formed URLs of every kind load unchanged."""
    assert parse_config(config([door("dc-1", port)])).devices[0].port == port


def test_cp2110_needs_its_hid_module() -> None:
    """cp2110:// is refused where its `hid` module is missing (accepted where installed)."""
    import importlib.util

    data = config([door("dc-1", "cp2110://0001:004a:00")])
    if importlib.util.find_spec("hid") is not None:
        assert parse_config(data).devices[0].port == "cp2110://0001:004a:00"
    else:
        assert problems(data) == [
            "devices[0].port: cp2110:// needs the hidapi package (module hid), which is not "
            "installed (value 'cp2110://0001:004a:00')"
        ]


def test_url_password_in_a_bad_port_is_masked() -> None:
    """A refused URL with a user and password shows them masked."""
    (line,) = problems(config([door("dc-1", "socket://u:pw@conv-1:x")]))
    assert line == (
        "devices[0].port: expected socket://HOST:PORT: port 'x' is not a number from 1 to "
        "65535 (value 'socket://***@conv-1:x')"
    )


# --- device type --------------------------------------------------------------------------

TYPES = "door_counter, rfid_reader, qr_camera, health_kiosk"


@pytest.mark.parametrize(
    ("device", "line"),
    [
        (
            {"type": "thermometer", "id": "t-1"},
            f"devices[0].type: unknown device type (allowed: {TYPES}) (value 'thermometer')",
        ),
        (
            {"type": 5, "id": "t-1"},
            f"devices[0].type: unknown device type (allowed: {TYPES}) (value 5)",
        ),
        (
            {"type": ["door_counter"], "id": "t-1"},
            f"devices[0].type: unknown device type (allowed: {TYPES}) (value: a list)",
        ),
        (
            {"id": "cam-1", "secret": "q" * 20},
            f"devices[0].type: field required (one of: {TYPES})",
        ),
    ],
)
def test_bad_device_type_names_the_type_field(device: dict[str, Any], line: str) -> None:
    """A missing or unknown type is reported at devices[i].type with its value (never the
    rest of the device, which may hold a secret) and the allowed types."""
    assert problems(config([device])) == [line]


# --- agent.data_dir -----------------------------------------------------------------------


def test_data_dir_that_is_a_file_is_refused_by_check_and_run(tmp_path: Path) -> None:
    """data_dir naming a file: `check` and `run` exit 2 with one line, no traceback."""
    (tmp_path / "outbox").write_text("not a folder")
    path = write(tmp_path, config([], data_dir="outbox"))
    line = f"{path}: agent.data_dir: exists and is not a folder (value '{tmp_path / 'outbox'}')\n"
    for command in ("check", "run"):
        done = edge(command, "--config", str(path))
        assert (command, done.returncode, done.stderr) == (command, 2, line)


def test_data_dir_under_a_file_is_refused(tmp_path: Path) -> None:
    """data_dir whose parent is a file cannot be created."""
    (tmp_path / "var").write_text("")
    path = write(tmp_path, config([], data_dir="var/edge"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == [
        f"agent.data_dir: cannot be created: '{tmp_path / 'var'}' is not a folder "
        f"(value '{tmp_path / 'var' / 'edge'}')"
    ]


def test_outbox_that_is_not_a_file_is_refused(tmp_path: Path) -> None:
    """A folder named like the outbox file in data_dir is refused."""
    (tmp_path / "data" / "outbox.sqlite3").mkdir(parents=True)
    path = write(tmp_path, config([], data_dir="data"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == [
        f"agent.data_dir: outbox.sqlite3 in it is not a file (value '{tmp_path / 'data'}')"
    ]


def test_read_only_file_system_is_refused_by_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data_dir on a read-only file system is refused for every user (check too)."""
    monkeypatch.setattr(config_checks, "_read_only", lambda p: p == tmp_path)
    path = write(tmp_path, config([], data_dir="var/edge"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == [
        f"agent.data_dir: cannot be created in '{tmp_path}': read-only file system "
        f"(value '{tmp_path / 'var' / 'edge'}')"
    ]


def test_read_only_detection_reads_the_mount_flags(tmp_path: Path) -> None:
    """_read_only is statvfs's ST_RDONLY flag (a writable tmp folder is not read-only)."""
    assert config_checks._read_only(tmp_path) is False
    assert config_checks._read_only(tmp_path) == bool(os.statvfs(tmp_path).f_flag & os.ST_RDONLY)


def test_data_dir_without_permission_is_refused_by_run_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run` (load_checked) refuses a data_dir its user may not create, naming the user;
    `check` judges permissions too unless run as root (at install), and then says so."""
    denied = tmp_path
    monkeypatch.setattr(config_checks, "_may", lambda p, mode: p != denied)
    path = write(tmp_path, config([], data_dir="var/edge"))
    user = pwd.getpwuid(os.geteuid()).pw_name
    assert load_checked(path) is None
    assert capsys.readouterr().err == (
        f"{path}: agent.data_dir: cannot be created in '{tmp_path}': no permission for user "
        f"{user} (value '{tmp_path / 'var' / 'edge'}')\n"
    )
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert check_config(path) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: ok: agent edge-1")
    assert out.endswith(" (write permission on agent.data_dir not checked as root)\n")
    monkeypatch.setattr(os, "geteuid", lambda: 65534)  # e.g. sudo -u facility-edge ... check
    assert check_config(path) == 2
    assert "agent.data_dir: cannot be created in" in capsys.readouterr().err


def test_unwritable_outbox_file_is_refused_by_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An outbox file the agent's user may not write (left by a run as root) stops `run`."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "outbox.sqlite3").write_bytes(b"")
    monkeypatch.setattr(config_checks, "_may", lambda p, mode: p.name != "outbox.sqlite3")
    path = write(tmp_path, config([], data_dir="data"))
    user = pwd.getpwuid(os.geteuid()).pw_name
    assert load_checked(path) is None
    assert capsys.readouterr().err == (
        f"{path}: agent.data_dir: outbox.sqlite3 in it is not writable by user {user} "
        f"(value '{data}')\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder")
def test_folder_without_write_permission_is_refused_for_real(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the monkeypatch: a folder of mode 0500 cannot hold a new data_dir."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        path = write(tmp_path, config([], data_dir="locked/edge"))
        assert load_checked(path) is None
        assert f"agent.data_dir: cannot be created in '{locked}': no permission" in (
            capsys.readouterr().err
        )
    finally:
        locked.chmod(0o700)


def test_usable_data_dir_passes_both(tmp_path: Path) -> None:
    """An existing writable folder, or one that can be made, passes check and run's check."""
    (tmp_path / "data").mkdir()
    for data_dir in ("data", "new/deeper"):
        path = write(tmp_path, config([], data_dir=data_dir))
        cfg = load_checked(path)
        assert cfg is not None and cfg.agent.data_dir == tmp_path.resolve() / data_dir
    assert not (tmp_path / "new").exists()  # checking creates nothing
