"""Edge deployment on a Raspberry Pi: systemd unit, install bundle, example configuration."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from facility_edge.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "edge" / "deploy"
UNIT = DEPLOY / "facility-edge.service"


def _unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_unit_restarts_and_runs_unprivileged_with_serial_access() -> None:
    """The unit restarts on failure and runs the agent unprivileged in the dialout group."""
    service = _unit()["Service"]
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "2"
    # Restart= covers a failing ExecStartPre, RestartPreventExitStatus= does not.
    assert "ExecStartPre" not in service
    assert service["User"] == "facility-edge" and service["User"] != "root"
    assert service["SupplementaryGroups"] == "dialout"
    assert service["ExecStart"] == (
        "/opt/facility-edge/bin/python -OO -m facility_edge run"
        " --config /etc/facility-edge/edge.yaml"
    )
    assert service["NoNewPrivileges"] == "yes"


def test_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    """systemd itself accepts the unit (with this machine's Python in place of the venv's)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    unit = tmp_path / "facility-edge.service"
    unit.write_text(UNIT.read_text().replace("/opt/facility-edge/bin/python", sys.executable))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "facility-edge.service" not in result.stderr, result.stderr


def test_example_config_loads_and_uses_stable_serial_names() -> None:
    """The Pi example loads, uses /dev/serial/by-id ports and the broker's user name."""
    cfg = load_config(DEPLOY / "edge.yaml")
    assert cfg.agent.data_dir == Path("/var/lib/facility-edge")
    assert cfg.devices and all(d.port.startswith("/dev/serial/by-id/") for d in cfg.devices)  # type: ignore[union-attr]
    assert cfg.mqtt.username == f"{cfg.agent.site}.{cfg.agent.id}"
    assert "/var/lib/facility-edge" in _unit()["Service"]["ReadWritePaths"]


def test_bundle_holds_only_the_edge_and_installs_cleanly(tmp_path: Path) -> None:
    """bundle.sh packs the edge wheels, pinned edge-only requirements, unit and example."""
    if shutil.which("uv") is None:
        pytest.skip("uv not on PATH")
    for script in ("install.sh", "bundle.sh"):
        subprocess.run(["bash", "-n", str(DEPLOY / script)], check=True)
    out = tmp_path / "bundle"
    subprocess.run(
        [str(DEPLOY / "bundle.sh"), str(out)], check=True, capture_output=True, timeout=120
    )
    wheels = sorted(p.name.split("-")[0] for p in (out / "wheels").glob("*.whl"))
    assert wheels == ["facility_contracts", "facility_edge"]
    requirements = (out / "requirements.txt").read_text()
    assert "pyserial==" in requirements and "paho-mqtt==" in requirements
    for heavy in ("fastapi", "sqlalchemy", "influxdb-client", "grafana-client", "opencv"):
        assert heavy not in requirements, heavy
    assert {p.name for p in out.iterdir()} >= {"install.sh", "facility-edge.service", "edge.yaml"}


def _board(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m facility_edge ...` as on the Pi (no `facility` command there)."""
    cmd = [sys.executable, "-m", "facility_edge", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_board_check_accepts_the_example_and_exits_2_on_errors(tmp_path: Path) -> None:
    """`python -m facility_edge check` prints a summary for a valid file and, for an invalid
    or missing one, the problem (file and field) with exit code 2 and no traceback."""
    ok = _board("check", "--config", str(DEPLOY / "edge.yaml"))
    assert ok.returncode == 0, ok.stderr
    assert "ok: agent edge-main at site xihu-beishan-shuguang" in ok.stdout
    bad = tmp_path / "edge.yaml"
    bad.write_text((DEPLOY / "edge.yaml").read_text().replace("port: 1883", "port: 70000"))
    for path, expected in ((bad, f"{bad}: mqtt.port"), (tmp_path / "none.yaml", "none.yaml")):
        result = _board("check", "--config", str(path))
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr and "Traceback" not in result.stderr


def test_agent_exits_2_on_an_invalid_config_so_systemd_does_not_restart(tmp_path: Path) -> None:
    """The unit's own ExecStart, with an invalid configuration, exits 2 (RestartPreventExitStatus)
    after one line naming the field."""
    bad = tmp_path / "edge.yaml"
    bad.write_text((DEPLOY / "edge.yaml").read_text().replace("port: 1883", "port: 70000"))
    start = _unit()["Service"]["ExecStart"].split()
    assert start[0] == "/opt/facility-edge/bin/python" and start[-2:] == [
        "--config",
        "/etc/facility-edge/edge.yaml",
    ]
    cmd = [sys.executable, *start[1:-1], str(bad)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == int(_unit()["Service"]["RestartPreventExitStatus"])
    assert f"{bad}: mqtt.port" in result.stderr and "Traceback" not in result.stderr


def test_missing_key_file_names_the_board_command(tmp_path: Path) -> None:
    """A kiosk's missing key file: exit 2, and the fix given in the form the Pi can run."""
    path = tmp_path / "edge.yaml"
    path.write_text(
        f"agent: {{id: edge-1, site: s, data_dir: {tmp_path / 'var'}}}\nmqtt: {{host: h}}\n"
        "devices:\n  - {type: health_kiosk, id: kr, key_file: nokey, kiosks: {k1: s}}\n"
    )
    result = _board("check", "--config", str(path))
    assert result.returncode == 2
    assert "`python -m facility_edge new-key --out FILE`" in result.stderr


def _fake_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    (bundle / "wheels").mkdir(parents=True)
    for name in ("install.sh", "facility-edge.service", "edge.yaml"):
        shutil.copy(DEPLOY / name, bundle / name)
    (bundle / "requirements.txt").write_text("pyserial==3.5\n")
    for wheel in ("facility_edge-0.1-py3-none-any.whl", "facility_contracts-0.1-py3-none-any.whl"):
        (bundle / "wheels" / wheel).write_text("")
    return bundle


def test_install_dry_run_changes_nothing_and_uses_the_chosen_paths(tmp_path: Path) -> None:
    """`install.sh --dry-run` with PREFIX/CONF_DIR/UNIT_DIR prints the unit written with those
    paths (which systemd accepts), creates nothing, and stops before starting the agent."""
    bundle = _fake_bundle(tmp_path)
    units, prefix, conf = tmp_path / "units", tmp_path / "fe", tmp_path / "fe-conf"
    env = {**os.environ, "PREFIX": str(prefix), "CONF_DIR": str(conf), "UNIT_DIR": str(units)}
    result = subprocess.run(
        ["bash", str(bundle / "install.sh"), "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert not units.exists() and not prefix.exists() and not conf.exists()
    out = result.stdout
    assert f"would run: install -d -m 0755 {units}" in out
    assert "would run: systemctl enable facility-edge.service" in out
    assert "not started:" in out and "would run: systemctl restart" not in out
    unit = out.split(f"would write {units}/facility-edge.service:\n", 1)[1]
    unit = "\n".join(ln[4:] for ln in unit.splitlines() if ln.startswith("    ")) + "\n"
    assert (
        f"ExecStart={prefix}/bin/python -OO -m facility_edge run --config {conf}/edge.yaml" in unit
    )
    assert "/opt/facility-edge" not in unit and "/etc/facility-edge" not in unit
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:
        (tmp_path / "facility-edge.service").write_text(
            unit.replace(f"{prefix}/bin/python", sys.executable)
        )
        verify = subprocess.run(
            [analyze, "verify", str(tmp_path / "facility-edge.service")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verify.returncode == 0, verify.stderr


def test_install_refuses_relative_paths(tmp_path: Path) -> None:
    """A relative PREFIX would make a unit systemd refuses: exit 2 naming the variable."""
    bundle = _fake_bundle(tmp_path)
    result = subprocess.run(
        ["bash", str(bundle / "install.sh"), "--dry-run"],
        capture_output=True,
        text=True,
        env={**os.environ, "PREFIX": "opt/fe"},
        timeout=60,
    )
    assert result.returncode == 2 and "PREFIX must be an absolute path" in result.stderr
