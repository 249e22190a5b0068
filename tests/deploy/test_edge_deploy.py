"""Edge deployment on a Raspberry Pi: systemd unit, install bundle, example configuration."""

from __future__ import annotations

import configparser
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
