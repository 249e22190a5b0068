"""docker-compose.yml: valid for docker-compose, locked down, state in volumes, secrets
from the environment only."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from facility_dashboards import build

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
LONG_RUNNING = ("mosquitto", "influxdb", "postgres", "server", "gateway", "grafana")


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _filled_env(tmp_path: Path) -> Path:
    """deploy/.env.example with every empty value filled, as an operator would."""
    env = tmp_path / ".env"
    env.write_text(re.sub(r"=$", "=filled-in-secret", ENV_EXAMPLE.read_text(), flags=re.M))
    return env


def _docker_compose(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose not installed (Debian package docker-compose)")
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_docker_compose_config_passes(tmp_path: Path) -> None:
    """`docker-compose -f docker-compose.yml config -q` accepts the file with the env filled in."""
    result = _docker_compose(
        "--env-file", str(_filled_env(tmp_path)), "-f", str(COMPOSE), "config", "-q"
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_missing_secrets(tmp_path: Path) -> None:
    """Without the secrets the configuration does not even render (no default passwords)."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = _docker_compose("--env-file", str(empty), "-f", str(COMPOSE), "config", "-q")
    assert result.returncode != 0
    assert "set in deploy/.env" in result.stderr


def test_env_example_lists_every_variable() -> None:
    """Every ${VAR} the compose file reads is documented in deploy/.env.example."""
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    listed = set(re.findall(r"^([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), flags=re.M))
    assert used <= listed, used - listed
    assert not re.search(r"(PASSWORD|TOKEN|SECRET)=\S", ENV_EXAMPLE.read_text()), (
        "no sample secrets"
    )


def test_every_service_keeps_state_in_volumes_and_has_health_checks() -> None:
    """Long-running services restart and have a health check; stateful ones a named volume."""
    compose = _compose()
    services = compose["services"]
    for name in LONG_RUNNING:
        assert "healthcheck" in services[name], name
        assert services[name]["restart"] == "unless-stopped", name
    state = {
        "mosquitto": "/mosquitto/data",
        "influxdb": "/var/lib/influxdb2",
        "postgres": "/var/lib/postgresql/data",
        "grafana": "/var/lib/grafana",
        "gateway": "/var/lib/facility-gateway",
    }
    for name, path in state.items():
        mounts = {v.split(":")[1]: v.split(":")[0] for v in services[name]["volumes"]}
        assert mounts[path] in compose["volumes"], f"{name}: {path} not in a named volume"


def test_broker_and_grafana_are_locked_down() -> None:
    """Mosquitto has no anonymous access; Grafana neither, admin password from the env."""
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", conf, re.M)
    assert re.search(r"^password_file /mosquitto/auth/passwd$", conf, re.M)
    assert re.search(r"^acl_file /mosquitto/auth/acl$", conf, re.M)
    grafana = _compose()["services"]["grafana"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith(
        "${GRAFANA_ADMIN_PASSWORD:?"
    )


def test_grafana_mounts_the_provisioning_and_the_generated_dashboards() -> None:
    """The provisioning files and generated JSON are mounted where the provider looks."""
    mounts = {
        v.split(":")[0]: v.split(":")[1] for v in _compose()["services"]["grafana"]["volumes"]
    }
    assert mounts["./dashboards/generated"] == build.CONTAINER_DASHBOARDS
    assert (
        mounts["./dashboards/provisioning/datasources"] == "/etc/grafana/provisioning/datasources"
    )
    provider = yaml.safe_load((build.ROOT / "provisioning/dashboards/facility.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == build.CONTAINER_DASHBOARDS
    env = _compose()["services"]["grafana"]["environment"]
    datasource = (build.ROOT / "provisioning/datasources/facility.yaml").read_text()
    for var in re.findall(r"\$\{(\w+)\}", datasource):
        assert var in env, f"the datasource reads {var}, which Grafana's environment lacks"


def test_grafana_reads_influxdb_with_a_read_only_credential() -> None:
    """Grafana's InfluxDB credential is read-only; InfluxQL goes through a DBRP mapping."""
    script = (ROOT / "deploy" / "influxdb" / "provision.sh").read_text()
    grafana_auth = script[script.index("influx v1 auth create") :].split("\n\n")[0]
    assert "--read-bucket" in grafana_auth and "--write-bucket" not in grafana_auth
    assert "influx v1 dbrp create" in script
    subprocess.run(["bash", "-n", str(ROOT / "deploy" / "influxdb" / "provision.sh")], check=True)
    for name in ("start.sh", "install-auth.sh", "reload-auth.sh"):
        subprocess.run(["sh", "-n", str(ROOT / "deploy" / "mosquitto" / name)], check=True)


def test_image_build_exports_server_gateway_and_cli(tmp_path: Path) -> None:
    """The Dockerfile copies enough of the workspace for its `uv export` steps to succeed."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv not on PATH")
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    build_stage = dockerfile.split("\nFROM ", 2)[1]
    for src, dst in re.findall(r"^COPY (?!--)(\S+(?: \S+)*?) (\S+)$", build_stage, re.M):
        for item in src.split():
            target = tmp_path / (dst if dst != "./" else item)
            target.parent.mkdir(parents=True, exist_ok=True)
            copy = shutil.copytree if (ROOT / item).is_dir() else shutil.copy
            copy(ROOT / item, target if dst != "./" else tmp_path / item)
    exports = re.findall(r"uv export ([^\n]*?) -o /tmp/(\w+)\.txt", build_stage)
    assert [name for _, name in exports] == ["server", "cli"]
    for args, name in exports:
        out = tmp_path / f"{name}.txt"
        result = subprocess.run(
            [uv, "export", *args.split(), "-o", str(out), "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    wanted = (tmp_path / "server.txt").read_text() + (tmp_path / "cli.txt").read_text()
    for member in ("./contracts", "./gateway", "./server", "./cli"):
        assert re.search(rf"^{re.escape(member)}$", wanted, re.M), member
    assert "-e " not in wanted and "opencv" not in wanted


def _rendered(tmp_path: Path, **values: str) -> dict[str, Any]:
    """The compose file as docker-compose renders it with the env example filled in."""
    env = _filled_env(tmp_path)
    text = env.read_text()
    for key, value in values.items():
        text = re.sub(rf"^{key}=.*$", f"{key}={value}", text, flags=re.M)
    env.write_text(text)
    result = _docker_compose("--env-file", str(env), "-f", str(COMPOSE), "config")
    assert result.returncode == 0, result.stderr
    rendered: dict[str, Any] = yaml.safe_load(result.stdout)
    return rendered


def test_only_the_one_shot_export_holds_service_broker_passwords(tmp_path: Path) -> None:
    """The long-running server has only its own broker password and no write access to
    deploy/broker-auth; the export runs in the broker-auth tool service (never `up`)."""
    services = _rendered(tmp_path)["services"]
    server, export = services["server"], services["broker-auth"]
    assert not [k for k in server["environment"] if k.startswith("FACILITY_BROKER_")]
    assert not [v for v in server.get("volumes", []) if "broker-auth" in str(v)]
    assert export["profiles"] == ["tools"] and export["restart"] == "no"
    assert export["entrypoint"][-4:] == ["server", "export-broker-auth", "--out", "/broker-auth"]
    assert {k for k in export["environment"] if k.startswith("FACILITY_BROKER_")} == {
        "FACILITY_BROKER_GATEWAY_PASSWORD",
        "FACILITY_BROKER_SERVER_PASSWORD",
        "FACILITY_BROKER_HEALTH_PASSWORD",
    }
    assert [v for v in export["volumes"] if v.endswith(":/broker-auth:rw")]
    mosquitto = [v for v in services["mosquitto"]["volumes"] if "broker-auth" in v]
    assert mosquitto and all(v.endswith(":ro") for v in mosquitto)


def test_broker_ports_bind_where_the_operator_says(tmp_path: Path) -> None:
    """MQTT_BIND / MQTT_TLS_BIND choose the interfaces of 1883 and 8883 (Docker publishes
    past the host firewall), and the TLS certificate folder is mounted read-only."""
    services = _rendered(tmp_path, MQTT_BIND="10.8.0.1", MQTT_TLS_BIND="10.8.0.2")["services"]
    assert services["mosquitto"]["ports"] == ["10.8.0.1:1883:1883/tcp", "10.8.0.2:8883:8883/tcp"]
    certs = [v for v in services["mosquitto"]["volumes"] if ":/mosquitto/certs" in v]
    assert certs == [f"{ROOT}/deploy/mqtt-tls:/mosquitto/certs:ro"]
    assert (ROOT / "deploy" / "mqtt-tls" / ".gitkeep").exists()


DOCKER_PY = "/usr/bin/python3"  # Debian's python3-docker, docker-compose's own build code
CONTEXT_FILES = """
import json, sys
from docker.utils.build import exclude_paths
root, ignore = sys.argv[1], sys.argv[2]
patterns = [p.strip() for p in open(ignore) if p.strip() and not p.startswith("#")]
print(json.dumps(sorted(exclude_paths(root, patterns, dockerfile="deploy/Dockerfile"))))
"""


def _context(root: Path) -> set[str]:
    """The files docker-compose would send as the build context of ``root``."""
    probe = subprocess.run([DOCKER_PY, "-c", "import docker"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("python3-docker (docker-compose's build code) not installed")
    result = subprocess.run(
        [DOCKER_PY, "-c", CONTEXT_FILES, str(root), str(ROOT / ".dockerignore")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(result.stdout))


def test_build_context_holds_what_the_dockerfile_copies() -> None:
    """Every file under the Dockerfile's COPY sources is in the build context."""
    context = _context(ROOT)
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    sources = [
        src
        for line in re.findall(r"^COPY (?!--)(.+) \S+$", dockerfile, re.M)
        for src in line.split()
    ]
    assert "server" in sources and "uv.lock" in sources
    for src in sources:
        path = ROOT / src
        wanted = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        wanted = [p for p in wanted if "__pycache__" not in p.parts and p.suffix != ".pyc"]
        assert wanted, src
        missing = [
            str(p.relative_to(ROOT)) for p in wanted if str(p.relative_to(ROOT)) not in context
        ]
        assert not missing, missing[:5]


def test_build_context_leaves_out_secrets_and_bulk(tmp_path: Path) -> None:
    """The virtualenv, git, deploy/.env, the broker's credentials and TLS key, caches and
    databases never reach the builder (nor does it read deploy/broker-auth at all)."""
    kept = ["pyproject.toml", "server/facility_server/cli.py", "deploy/Dockerfile"]
    left_out = [
        ".venv/lib/site.py",
        ".git/HEAD",
        "deploy/.env",
        "deploy/broker-auth/passwd",
        "deploy/broker-auth/backups/x/passwd",
        "deploy/mqtt-tls/server.key",
        "server/facility_server/__pycache__/cli.cpython-311.pyc",
        ".pytest_cache/v/cache",
        "facility.db",
        "tests/conftest.py",
    ]
    for rel in kept + left_out:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    context = _context(tmp_path)
    assert set(kept) <= context
    assert not set(left_out) & context
    assert not [f for f in context if f.startswith(("deploy/broker-auth", ".venv", ".git"))]
