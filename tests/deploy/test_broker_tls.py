"""The broker's optional TLS listener (deploy/mosquitto/tls.conf, appended by start.sh when a
certificate is mounted) on a real Mosquitto: same accounts and ACLs as the plain listener,
no client without the right CA, no anonymous client."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from broker_support import (
    SERVICES,
    TLS_CONF,
    Client,
    ProductionMosquitto,
    make_registry,
    printed_secrets,
    run_export,
)

ROOT = Path(__file__).resolve().parents[2]
SITE = "site-t" + uuid.uuid4().hex[:4]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path, name: str = "ca") -> Path:
    """A CA (``{name}.crt``) and a server certificate for 127.0.0.1 signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = f"-subj /CN={name} -keyout {name}.key -out {name}.crt"
    _openssl(*f"req -x509 -newkey rsa:2048 -nodes -days 2 {ca}".split(), cwd=folder)
    csr = "-subj /CN=127.0.0.1 -keyout server.key -out server.csr"
    _openssl(*f"req -newkey rsa:2048 -nodes {csr}".split(), cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    sign = f"-CA {name}.crt -CAkey {name}.key -CAcreateserial -extfile san.ext"
    _openssl(*f"x509 -req -in server.csr {sign} -days 2 -out server.crt".split(), cwd=folder)
    return folder / f"{name}.crt"


@dataclass
class TlsBroker:
    broker: ProductionMosquitto
    ca: Path
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """A registry, its export, and Mosquitto with the production config plus tls.conf."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    tmp = tmp_path_factory.mktemp("broker-tls")
    ca = make_certificates(tmp / "tls")
    db = make_registry(tmp / "registry.db", (SITE, "xihu"))
    result = run_export(db, tmp / "out")
    assert result.exit_code == 0, result.output
    with ProductionMosquitto(tmp / "broker", tmp / "out", tls_dir=tmp / "tls") as broker:
        yield TlsBroker(broker, ca, printed_secrets(result.stdout))


def test_tls_fragment_listens_on_8883_with_the_mounted_files() -> None:
    """tls.conf opens 8883 with the certificate start.sh installs; start.sh appends it."""
    lines = [ln for ln in TLS_CONF.read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines == [
        "listener 8883",
        "protocol mqtt",
        "certfile /mosquitto/tls/server.crt",
        "keyfile /mosquitto/tls/server.key",
    ]
    start = (ROOT / "deploy" / "mosquitto" / "start.sh").read_text()
    assert 'cat "$conf" /mosquitto/config/tls.conf > /mosquitto/tls/mosquitto.conf' in start
    assert "/mosquitto/certs/server.key /mosquitto/tls/server.key" in start


@pytest.mark.integration
def test_device_and_gateway_talk_over_tls_with_their_acls(tls_broker: TlsBroker) -> None:
    """Over TLS a device publishes its own events to the gateway; a forged topic is dropped."""
    port, ca = tls_broker.broker.tls_port, tls_broker.ca
    user = f"{SITE}.sat-1"
    with (
        Client(port, "facility-gateway", SERVICES["FACILITY_BROKER_GATEWAY_PASSWORD"], ca=ca) as gw,
        Client(port, user, tls_broker.secrets[user], ca=ca) as device,
    ):
        assert gw.ok and device.ok
        gw.subscribe("facility/v1/+/+/evt")
        device.publish(f"facility/v1/{SITE}/sat-2/evt", "forged")
        device.publish(f"facility/v1/{SITE}/sat-1/evt", "own")
        assert gw.until("own") == [(f"facility/v1/{SITE}/sat-1/evt", "own")]


@pytest.mark.integration
def test_tls_refuses_anonymous_and_untrusted_certificates(
    tls_broker: TlsBroker, tmp_path: Path
) -> None:
    """Anonymous TLS clients are refused; a client trusting another CA cannot connect."""
    port = tls_broker.broker.tls_port
    with Client(port, ca=tls_broker.ca) as anonymous:
        assert not anonymous.ok
    other_ca = make_certificates(tmp_path / "other", "other-ca")
    user = f"{SITE}.sat-1"
    with pytest.raises(ssl.SSLError):
        Client(port, user, tls_broker.secrets[user], ca=other_ca)
