"""export-broker-auth refuses what would lock devices out or lose secrets: a wrong database,
credentials that would vanish, damaged files, names that rotate nothing, invented service
passwords; it keeps a copy of what it replaces. Real Mosquitto where the broker decides."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from broker_support import (
    SERVICES,
    Client,
    ProductionMosquitto,
    make_registry,
    printed_secrets,
    run_export,
)
from facility_server.broker_auth import (
    BrokerAuthError,
    DeviceRow,
    check_rotate,
    device_principals,
    removed_users,
    service_principals,
)
from facility_server.core.db import make_engine, session_factory, session_scope
from facility_server.core.migrate import downgrade, upgrade
from facility_server.models import Device
from sqlalchemy import make_url, select

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SITE = "site-x" + uuid.uuid4().hex[:4]
FILES = ("acl", "passwd", "broker-auth.json")


def _snapshot(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in FILES if (out / name).exists()}


def _registry_hashes(db: str) -> dict[str, str | None]:
    engine = make_engine(db)
    with session_scope(session_factory(engine)) as session:
        rows = {d.code: d.mqtt_secret_hash for d in session.scalars(select(Device))}
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated registry with one complex, copied by each test (migrating is slow)."""
    path = tmp_path_factory.mktemp("template") / "registry.db"
    make_registry(path, (SITE, "xihu"))
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    return path


@pytest.fixture
def exported(template: Path, tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    """A registry of its own, its first export (out folder) and the secrets printed."""
    shutil.copy(template, tmp_path / "registry.db")
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    result = run_export(db, tmp_path / "out")
    assert result.exit_code == 0, result.output
    return db, tmp_path / "out", printed_secrets(result.stdout)


# --- the database must exist, be migrated and hold a complex --------------------------------


def test_missing_sqlite_file_is_refused_and_not_created(
    exported: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    """A --db typo names the URL, exits 2, creates no file and leaves the files alone."""
    _, out, _ = exported
    before = _snapshot(out)
    typo = tmp_path / "registy.db"
    result = run_export(f"sqlite:///{typo}", out)
    assert result.exit_code == 2
    assert f"no such database file {typo}" in result.stderr
    assert not typo.exists() and _snapshot(out) == before


def test_unmigrated_database_is_refused_and_left_unmigrated(
    exported: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    """An existing file without the schema is refused; the export adds no table to it."""
    _, out, _ = exported
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    result = run_export(f"sqlite:///{empty}", out)
    assert result.exit_code == 2
    assert "not a facility database (no schema)" in result.stderr
    tables = sqlite3.connect(empty).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == []


def test_database_at_an_older_revision_is_refused(tmp_path: Path) -> None:
    """A registry not at the newest migration is refused with the revision it is at."""
    db = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(db)
    downgrade(db, "-1")
    result = run_export(db, tmp_path / "out")
    assert result.exit_code == 2
    assert "run `facility server migrate` first" in result.stderr
    assert not (tmp_path / "out").exists()


def test_registry_without_a_complex_is_refused(tmp_path: Path) -> None:
    """A migrated but empty registry writes nothing (it would lock every device out)."""
    db = f"sqlite:///{tmp_path / 'blank.db'}"
    upgrade(db)
    result = run_export(db, tmp_path / "out")
    assert result.exit_code == 2
    assert "no complex in the registry" in result.stderr
    assert not (tmp_path / "out").exists()


def test_bad_url_and_unreachable_server_are_one_line_errors(tmp_path: Path) -> None:
    """An unknown URL scheme and a PostgreSQL nobody listens on: one line, exit 2."""
    bad = run_export("mysqlx://u@h/db", tmp_path / "out")
    assert bad.exit_code == 2 and "not a database URL" in bad.output
    down = run_export("postgresql+psycopg://postgres@127.0.0.1:1/test", tmp_path / "out")
    assert down.exit_code == 2 and "database error" in down.output
    assert "Traceback" not in bad.output + down.output
    assert not (tmp_path / "out").exists()


@pytest.fixture
def blank_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards)."""
    conninfo = make_url(PG).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG}: {exc}")
    name = f"facility_export_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.integration
def test_postgres_without_schema_or_database_is_refused(
    blank_postgres: str, tmp_path: Path
) -> None:
    """On PostgreSQL an empty database stays empty, and a missing one is named."""
    result = run_export(blank_postgres, tmp_path / "out")
    assert result.exit_code == 2 and "no schema" in result.stderr
    with psycopg.connect(blank_postgres.replace("+psycopg", "")) as conn:
        count = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert count == (0,)
    missing = blank_postgres + "_nope"
    result = run_export(missing, tmp_path / "out")
    assert result.exit_code == 2
    assert "database error" in result.output and "_nope" in result.output
    assert not (tmp_path / "out").exists()


# --- credentials the files hold are not dropped by accident ---------------------------------


def test_removed_users_are_those_of_the_files_the_registry_lacks() -> None:
    """Lines and state entries of users the principals no longer have are 'removed'."""
    principals, _ = device_principals([DeviceRow(1, "a", "edge-1", "mqtt", None, None)])
    principals = service_principals() + principals
    passwd = {"a.edge-1": "$7$x", "facility-gateway": "$7$y", "a.old": "$7$z"}
    assert removed_users(principals, passwd, {"a.edge-1": "f", "b.gone": "f"}) == [
        "a.old",
        "b.gone",
    ]


@pytest.mark.integration
def test_other_registry_cannot_lock_devices_out(
    exported: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    """Another registry's export is refused (devices still connect); with --allow-removal it
    writes, the device is refused after a reload, and the kept backup lets it in again."""
    _, out, secrets = exported
    before = _snapshot(out)
    other = make_registry(tmp_path / "other.db", ("site-y" + uuid.uuid4().hex[:4], "gongshu"))
    user = f"{SITE}.sat-1"
    with ProductionMosquitto(tmp_path / "broker", out) as broker:
        refused = run_export(other, out)
        assert refused.exit_code == 2
        gone = ", ".join(f"{SITE}.{d}" for d in ("edge-1", "edge-2", "sat-1", "sat-2"))
        assert f"holds 4 credential(s) this registry does not have: {gone}." in refused.stderr
        assert "--allow-removal" in refused.stderr
        assert _snapshot(out) == before
        assert broker.reload_until(user, secrets[user], ok=True)

        forced = run_export(other, out, "--allow-removal")
        assert forced.exit_code == 0, forced.output
        assert f"removed: {gone}\n" in forced.stderr
        assert broker.reload_until(user, secrets[user], ok=False)

        (saved,) = (out / "backups").iterdir()
        assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
        for name in FILES:
            shutil.copy(saved / name, out / name)
        assert broker.reload_until(user, secrets[user], ok=True)


@pytest.mark.integration
def test_reload_drops_a_rotated_device_at_once(
    exported: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    """After a rotation and a reload, the rotated device's open connection is closed by the
    broker (docs: "disconnected at once"); a device whose line is unchanged stays."""
    db, out, secrets = exported
    rotated, kept = f"{SITE}.sat-1", f"{SITE}.sat-2"
    with (
        ProductionMosquitto(tmp_path / "broker", out) as broker,
        Client(broker.port, rotated, secrets[rotated]) as a,
        Client(broker.port, kept, secrets[kept]) as b,
    ):
        assert a.ok and b.ok
        assert run_export(db, out, "--rotate", rotated).exit_code == 0
        broker.reload()
        assert a.disconnected.wait(10)
        b.publish(f"facility/v1/{SITE}/sat-2/evt", "still here")  # a round trip after the reload
        assert not b.disconnected.is_set()


def test_backup_only_when_the_files_change(exported: tuple[str, Path, dict[str, str]]) -> None:
    """An export that changes nothing keeps no copy; a rotation keeps the previous files."""
    db, out, _ = exported
    before = _snapshot(out)
    assert run_export(db, out).exit_code == 0
    assert not (out / "backups").exists()
    result = run_export(db, out, "--rotate", f"{SITE}.sat-2")
    assert result.exit_code == 0, result.output
    (saved,) = (out / "backups").iterdir()
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
    assert f"previous files kept in {saved}" in result.stderr
    assert saved.stat().st_mode & 0o077 == 0


# --- damaged files are named, nothing is written ---------------------------------------------


DAMAGE = {
    "state not JSON": ("broker-auth.json", b'{"devices": {', "not JSON (Expecting"),
    "state without devices": ("broker-auth.json", b'{"version": 1}', "field 'devices' missing"),
    "state devices not an object": (
        "broker-auth.json",
        b'{"devices": [1]}',
        "field 'devices' is not an object",
    ),
    "passwd not UTF-8": ("passwd", b"a.b:$7$x\nc.d:$7$\xff\n", "not UTF-8 text (line 2, byte 16)"),
    "passwd line without colon": ("passwd", b"facility-gateway\n", "line 1: no ':'"),
}


@pytest.mark.parametrize("case", DAMAGE, ids=list(DAMAGE))
def test_damaged_file_is_named_and_nothing_changes(
    case: str, exported: tuple[str, Path, dict[str, str]]
) -> None:
    """A damaged passwd or state file: exit 2 naming the file and the fault; no writes."""
    db, out, _ = exported
    name, content, expected = DAMAGE[case]
    (out / name).write_bytes(content)
    before, hashes = _snapshot(out), _registry_hashes(db)
    result = run_export(db, out, "--rotate", f"{SITE}.sat-1")
    assert result.exit_code == 2, result.output
    assert f"{out / name}: " in result.stderr and expected in result.stderr
    assert "Traceback" not in result.output
    assert _snapshot(out) == before and _registry_hashes(db) == hashes


def test_out_pointing_at_a_file_is_refused(exported: tuple[str, Path, dict[str, str]]) -> None:
    """--out naming an existing file: a clear error, the file untouched."""
    db, out, _ = exported
    result = run_export(db, out / "passwd")
    assert result.exit_code == 2
    assert f"--out {out / 'passwd'}: exists and is not a folder" in result.stderr


# --- --rotate names that rotate nothing -------------------------------------------------------


def test_rotate_names_that_rotate_nothing_are_refused() -> None:
    """A typo (with the close names), a serial device (its agent named) and a service whose
    password is in the environment are each refused."""
    rows = [
        DeviceRow(1, "a", "edge-1", "mqtt", None, "h"),
        DeviceRow(2, "a", "dc-aid", "serial", "edge-1", None),
        DeviceRow(3, "a", "sat-1", "mqtt", None, "h"),
    ]
    principals = service_principals() + device_principals(rows)[0]
    env = {"FACILITY_BROKER_GATEWAY_PASSWORD": "pw"}
    check_rotate(["*", "a.sat-1", "facility-server"], principals, rows, env)
    with pytest.raises(BrokerAuthError) as err:
        check_rotate(["a.sat-l", "a.dc-aid", "facility-gateway"], principals, rows, env)
    message = str(err.value)
    assert "'a.sat-l' is no device or service of the registry (did you mean a.sat-1" in message
    assert "a.dc-aid is a serial device with no broker credential" in message
    assert "its edge agent a.edge-1 publishes for it" in message
    assert "facility-gateway: its password comes from FACILITY_BROKER_GATEWAY_PASSWORD" in message


def test_rotate_of_a_serial_device_fails_the_command(
    exported: tuple[str, Path, dict[str, str]],
) -> None:
    """The command exits 2 on a serial device's name and changes neither files nor registry."""
    db, out, _ = exported
    before, hashes = _snapshot(out), _registry_hashes(db)
    result = run_export(db, out, "--rotate", f"{SITE}.dc-kids")
    assert result.exit_code == 2
    assert f"{SITE}.dc-kids is a serial device" in result.stderr
    assert _snapshot(out) == before and _registry_hashes(db) == hashes


# --- service passwords ---------------------------------------------------------------------


def test_service_passwords_are_not_invented_silently(template: Path, tmp_path: Path) -> None:
    """Without FACILITY_BROKER_*_PASSWORD a first export is refused naming the variables;
    --new-service-passwords makes them and warns to put them into deploy/.env."""
    shutil.copy(template, tmp_path / "registry.db")
    db, out = f"sqlite:///{tmp_path / 'registry.db'}", tmp_path / "out"
    unset: dict[str, str | None] = dict.fromkeys(SERVICES)
    refused = run_export(db, out, env=unset)
    assert refused.exit_code == 2
    for var in SERVICES:
        assert f"(set {var})" in refused.stderr
    assert not out.exists()

    made = run_export(db, out, "--new-service-passwords", env=unset)
    assert made.exit_code == 0, made.output
    issued = printed_secrets(made.stdout)
    for principal in service_principals():
        assert principal.username in issued
        assert f"WARNING: {principal.username} has a NEW password" in made.stderr
        assert f"deploy/.env as {principal.env}=" in made.stderr

    again = run_export(db, out, env=unset)  # their lines exist now: kept
    assert again.exit_code == 0, again.output
    assert printed_secrets(again.stdout) == {} and "WARNING" not in again.stderr
