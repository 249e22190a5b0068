"""The broker's credentials generated from the registry: pure rules, and a real Mosquitto
running the production configuration with the generated files."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from broker_support import (
    SERVICES,
    Client,
    ProductionMosquitto,
    make_registry,
    printed_secrets,
    run_export,
)
from facility_server.auth.passwords import verify_secret
from facility_server.broker_auth import (
    DeviceRow,
    Principal,
    device_principals,
    fingerprint,
    mosquitto_hash,
    mosquitto_verify,
    parse_passwd,
    plan_auth,
    render_acl,
    service_principals,
)
from facility_server.core.db import make_engine, session_factory, session_scope
from facility_server.models import Device
from sqlalchemy import select


def t(site: str, device: str, channel: str) -> str:
    return f"facility/v1/{site}/{device}/{channel}"


# --- pure rules ----------------------------------------------------------------------------


def rows() -> list[DeviceRow]:
    return [
        DeviceRow(1, "a", "edge-1", "mqtt", None, None),
        DeviceRow(2, "a", "dc-1", "serial", "edge-1", None),
        DeviceRow(3, "a", "dc-2", "serial", None, None),
        DeviceRow(4, "a", "sat-1", "mqtt", None, "argon-hash-4"),
        DeviceRow(5, "b", "dc-1", "serial", "edge-1", None),
    ]


def test_edge_agent_covers_the_serial_devices_it_reads() -> None:
    """An edge agent covers its own site's serial devices; an unread serial device is reported."""
    principals, skipped = device_principals(rows())
    edge = next(p for p in principals if p.username == "a.edge-1")
    assert set(edge.write) == {
        t("a", "edge-1", "status"),
        t("a", "edge-1", "evt"),
        t("a", "dc-1", "evt"),
    }
    assert set(edge.read) == {t("a", "edge-1", "ack"), t("a", "dc-1", "ack")}
    assert [p.username for p in principals] == ["a.edge-1", "a.sat-1"]
    assert skipped == ["a.dc-2", "b.dc-1"]


def test_acl_has_no_anonymous_or_wildcard_device_rules() -> None:
    """The ACL file starts with no rule for anonymous clients; device rules name exact topics."""
    principals, _ = device_principals(rows())
    text = render_acl(service_principals() + principals)
    before_first_user = text.split("\nuser ", 1)[0]
    assert "topic" not in before_first_user and "pattern" not in text
    device_lines = text.split("user a.edge-1", 1)[1]
    assert "+" not in device_lines and "#" not in device_lines


def test_hash_is_mosquitto_passwd_compatible(tmp_path: Path) -> None:
    """A hash made by the mosquitto_passwd binary verifies here, and ours has its format."""
    binary = "/usr/bin/mosquitto_passwd"
    if not Path(binary).exists():
        pytest.skip("mosquitto_passwd not installed (Debian package mosquitto)")
    pwfile = tmp_path / "pw"
    pwfile.touch()
    subprocess.run([binary, "-b", str(pwfile), "alice", "s3cret"], check=True)
    theirs = parse_passwd(pwfile.read_text())["alice"]
    assert mosquitto_verify("s3cret", theirs) and not mosquitto_verify("wrong", theirs)
    ours = mosquitto_hash("s3cret")
    assert ours.split("$")[1:3] == theirs.split("$")[1:3] == ["7", "101"]
    assert len(ours) == len(theirs) and mosquitto_verify("s3cret", ours)


def _plan(**kw: object):  # type: ignore[no-untyped-def]
    principals, _ = device_principals(rows())
    secrets = iter(f"secret-{n}" for n in range(100))
    args = {"passwd": {}, "state": {}, "registry": {1: None, 4: None}, "env": {}, **kw}
    return plan_auth(service_principals() + principals, new_secret=lambda: next(secrets), **args)  # type: ignore[arg-type]


def test_new_devices_and_services_get_secrets_once() -> None:
    """A first export issues a secret per device and per service without a password."""
    plan = _plan()
    assert set(plan.issued) == {
        "a.edge-1",
        "a.sat-1",
        "facility-gateway",
        "facility-server",
        "facility-health",
    }
    assert set(plan.registry) == {1, 4}
    assert all(mosquitto_verify(plan.issued[u], plan.passwd[u]) for u in plan.issued)


def test_export_keeps_lines_it_issued() -> None:
    """A device whose registry hash is the one its line was issued with keeps the line."""
    kept = {"a.edge-1": "$7$101$x$y", "a.sat-1": "$7$101$z$w"}
    state = {"a.edge-1": fingerprint("h1"), "a.sat-1": fingerprint("h4")}
    plan = _plan(passwd=kept, state=state, registry={1: "h1", 4: "h4"}, env=SERVICES)
    assert plan.issued == {} and plan.unknown == []
    assert plan.passwd["a.edge-1"] == kept["a.edge-1"]
    assert mosquitto_verify(
        SERVICES["FACILITY_BROKER_GATEWAY_PASSWORD"], plan.passwd["facility-gateway"]
    )


def test_secret_issued_elsewhere_is_refused_until_rotated() -> None:
    """A registry secret the broker cannot know stops the export until it is rotated."""
    state = {"a.edge-1": fingerprint("h1"), "a.sat-1": fingerprint("old")}
    args = {
        "passwd": {"a.edge-1": "$7$a", "a.sat-1": "$7$b"},
        "state": state,
        "registry": {1: "h1", 4: "new"},
    }
    assert _plan(**args).unknown == ["a.sat-1"]
    rotated = _plan(rotate=["a.sat-1"], **args)
    assert rotated.unknown == [] and set(rotated.issued) >= {"a.sat-1"} and 4 in rotated.registry


def test_service_password_change_rehashes() -> None:
    """A service whose environment password no longer matches its line gets a new hash."""
    old = {"facility-gateway": mosquitto_hash("old")}
    plan = _plan(passwd=old, env={"FACILITY_BROKER_GATEWAY_PASSWORD": "new"})
    assert mosquitto_verify("new", plan.passwd["facility-gateway"])
    same = _plan(passwd=old, env={"FACILITY_BROKER_GATEWAY_PASSWORD": "old"})
    assert same.passwd["facility-gateway"] == old["facility-gateway"]


# --- the real broker -----------------------------------------------------------------------


@dataclass
class Stack:
    broker: ProductionMosquitto
    secrets: dict[str, str]
    out: Path
    db: str
    sites: tuple[str, str]

    def client(self, user: str | None = None, password: str | None = None, **kw: object) -> Client:
        if user is not None and password is None:
            service = {p.username: p.env for p in service_principals()}
            password = self.secrets.get(user) or SERVICES[service[user] or ""]
        return Client(self.broker.port, user, password, **kw)  # type: ignore[arg-type]


def export(db: str, out: Path, *extra: str) -> dict[str, str]:
    """Run the command as an operator would; the new secrets it printed."""
    result = run_export(db, out, *extra)
    assert result.exit_code == 0, result.output
    return printed_secrets(result.stdout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two complexes in a registry, the export, and Mosquitto started with its files."""
    tmp = tmp_path_factory.mktemp("broker-auth")
    sites = ("site-a" + uuid.uuid4().hex[:4], "site-b" + uuid.uuid4().hex[:4])
    db = make_registry(tmp / "registry.db", *zip(sites, ("xihu", "gongshu"), strict=True))
    secrets = export(db, tmp / "out")
    with ProductionMosquitto(tmp / "broker", tmp / "out") as broker:
        yield Stack(broker, secrets, tmp / "out", db, sites)


@pytest.fixture
def connect(stack: Stack) -> Iterator[Callable[..., Client]]:
    """:meth:`Stack.client`, each client closed after the test whatever it asserted."""
    with ExitStack() as opened:
        yield lambda *args, **kw: opened.enter_context(stack.client(*args, **kw))


@pytest.mark.integration
def test_anonymous_and_wrong_passwords_are_refused(
    stack: Stack, connect: Callable[..., Client]
) -> None:
    """No anonymous access, and a device's name with another device's secret is refused."""
    a, _ = stack.sites
    assert not connect().ok
    assert not connect(f"{a}.sat-1", stack.secrets[f"{a}.sat-2"]).ok
    assert connect(f"{a}.sat-1").ok


@pytest.mark.integration
def test_device_cannot_publish_as_another_device_or_site(
    stack: Stack, connect: Callable[..., Client]
) -> None:
    """A device's events on other devices' or sites' topics never reach the witness."""
    a, b = stack.sites
    gateway, device = connect("facility-gateway"), connect(f"{a}.sat-1")
    gateway.subscribe("$share/gw/facility/v1/+/+/evt", "facility/v1/+/+/status")
    for topic in (
        t(a, "sat-2", "evt"),
        t(a, "dc-kids", "evt"),
        t(b, "sat-1", "evt"),
        t(a, "edge-1", "status"),
        t(a, "sat-2", "ack"),
    ):
        device.publish(topic, "forged")
    device.publish(t(a, "sat-1", "evt"), "own")
    assert gateway.until("own") == [(t(a, "sat-1", "evt"), "own")]


@pytest.mark.integration
def test_device_cannot_read_another_devices_topics(
    stack: Stack, connect: Callable[..., Client]
) -> None:
    """A device subscribed to others' topics receives only its own ack; the others get theirs."""
    a, b = stack.sites
    gateway, spy, other = connect("facility-gateway"), connect(f"{a}.sat-1"), connect(f"{a}.sat-2")
    spy.subscribe(t(a, "sat-2", "ack"), t(b, "sat-1", "ack"), "facility/v1/#", "#")
    other.subscribe(t(a, "sat-2", "ack"))
    gateway.publish(t(a, "sat-2", "ack"), "for-sat-2")
    gateway.publish(t(b, "sat-1", "ack"), "for-b")
    gateway.publish(t(a, "sat-1", "ack"), "for-spy")
    assert spy.until("for-spy") == [(t(a, "sat-1", "ack"), "for-spy")]
    assert other.until("for-sat-2") == [(t(a, "sat-2", "ack"), "for-sat-2")]


@pytest.mark.integration
def test_taking_over_a_client_id_reads_nothing(
    stack: Stack, connect: Callable[..., Client]
) -> None:
    """A device reusing the gateway's client id gets none of its queued or live events."""
    a, _ = stack.sites
    victim_id = "gw-" + uuid.uuid4().hex[:8]
    with stack.client("facility-gateway", client_id=victim_id, clean_session=False) as gateway:
        gateway.subscribe("facility/v1/+/+/evt")
    device = connect(f"{a}.sat-2")
    device.publish(t(a, "sat-2", "evt"), "queued")
    thief = connect(f"{a}.sat-1", client_id=victim_id, clean_session=False)
    witness = connect("facility-gateway")
    assert thief.ok
    witness.subscribe("facility/v1/+/+/evt")
    device.publish(t(a, "sat-2", "evt"), "live")
    witness.until("live")
    thief.publish(t(a, "sat-1", "evt"), "marker")
    assert [p for _, p in witness.until("marker")] == ["marker"]
    assert thief.inbox.empty()


@pytest.mark.integration
def test_edge_agent_publishes_only_for_its_serial_devices(
    stack: Stack, connect: Callable[..., Client]
) -> None:
    """An edge agent publishes and reads acks only for the serial devices it reads."""
    a, b = stack.sites
    gateway, edge = connect("facility-gateway"), connect(f"{a}.edge-1")
    gateway.subscribe("facility/v1/+/+/evt")
    edge.subscribe(t(a, "dc-kids", "ack"))
    edge.publish(t(a, "sat-1", "evt"), "forged")
    edge.publish(t(a, "dc-other", "evt"), "forged")
    edge.publish(t(b, "dc-kids", "evt"), "forged")
    edge.publish(t(a, "dc-kids", "evt"), "kids")
    edge.publish(t(a, "dc-culture", "evt"), "culture")
    assert [p for _, p in gateway.until("culture")] == ["kids", "culture"]
    gateway.publish(t(a, "dc-kids", "ack"), "ack-kids")
    assert edge.until("ack-kids") == [(t(a, "dc-kids", "ack"), "ack-kids")]


@pytest.mark.integration
def test_gateway_reads_all_sites_and_server_cannot_ack(
    stack: Stack, connect: Callable[..., Client]
) -> None:
    """The gateway reads every site; the server cannot ack; the health check reads uptime."""
    a, b = stack.sites
    gateway, server = connect("facility-gateway"), connect("facility-server")
    dev_a, dev_b = connect(f"{a}.sat-1"), connect(f"{b}.sat-1")
    health = connect("facility-health")
    gateway.subscribe("$share/gw/facility/v1/+/+/evt", "facility/v1/+/+/status")
    server.subscribe("facility/v1/+/+/evt")
    dev_a.subscribe(t(a, "sat-1", "ack"))
    dev_a.publish(t(a, "sat-1", "status"), "status-a")
    dev_a.publish(t(a, "sat-1", "evt"), "evt-a")
    dev_b.publish(t(b, "sat-1", "evt"), "evt-b")
    got = gateway.until("evt-a") + gateway.until("evt-b")
    assert {p for _, p in got} == {"status-a", "evt-a", "evt-b"}
    assert {p for _, p in server.until("evt-b")} <= {"evt-a", "evt-b"}
    server.publish(t(a, "sat-1", "ack"), "server-ack")
    gateway.publish(t(a, "sat-1", "ack"), "gateway-ack")
    assert dev_a.until("gateway-ack") == [(t(a, "sat-1", "ack"), "gateway-ack")]
    health.subscribe("$SYS/broker/uptime")
    topic, _ = health.inbox.get(timeout=15)
    assert topic == "$SYS/broker/uptime"


@pytest.mark.integration
def test_second_export_keeps_secrets_and_rotation_takes_effect(
    stack: Stack, connect: Callable[..., Client]
) -> None:
    """Re-export issues nothing; after --rotate and a reload only the new secret connects."""
    a, _ = stack.sites
    user = f"{a}.sat-2"
    before = (stack.out / "passwd").read_text()
    assert export(stack.db, stack.out) == {}
    assert (stack.out / "passwd").read_text() == before
    rotated = export(stack.db, stack.out, "--rotate", user)
    assert set(rotated) == {user}
    assert stack.broker.reload_until(user, stack.secrets[user], ok=False)
    assert connect(user, rotated[user]).ok
    with session_scope(session_factory(make_engine(stack.db))) as session:
        row = session.scalars(select(Device).where(Device.mqtt_username == user)).one()
        assert verify_secret(rotated[user], row.mqtt_secret_hash)
        assert rotated[user] not in (row.mqtt_secret_hash or "")


def test_principal_is_hashable() -> None:
    """Principals are frozen values (safe to share between plans)."""
    assert hash(Principal("u", (), ())) == hash(Principal("u", (), ()))
