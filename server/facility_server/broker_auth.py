"""The production broker's password and ACL files, generated from the device registry.

``facility server export-broker-auth --db URL --out DIR`` writes three files to ``DIR``:

``passwd``
    Mosquitto's password file: ``username:$7$ITERATIONS$SALT$HASH`` per line, the
    PBKDF2-HMAC-SHA512 format ``mosquitto_passwd`` writes (Mosquitto 2.0,
    ``src/password_mosq.c``: 12-byte salt, 64-byte key, standard base64).
``acl``
    Mosquitto's ACL file: one ``user`` block per credential, ``topic read|write`` lines
    (mosquitto.conf(5), "acl_file"). A device may publish only on its own
    ``facility/v1/{site}/{device}/evt|status`` topics and read only its own ``ack`` topic;
    an edge agent also covers the serial devices it reads (``Device.via_id``).
``broker-auth.json``
    Which registry hash each device's password line was issued with (a fingerprint,
    not the hash), so the next export knows which lines it may keep.

Where the secrets come from. The server stores only an Argon2id hash of a device secret
(``devices.mqtt_secret_hash``) and Mosquitto needs its own PBKDF2 hash: neither can be
made from the other. So the export is the one place that issues broker secrets:

- a device (transport ``mqtt``) with no secret yet, or named with ``--rotate``, gets a new
  random secret; its Argon2id hash goes to the registry, its Mosquitto hash to ``passwd``,
  and the secret is printed once on stdout (``username secret``) and never stored;
- a device whose secret was issued by an earlier export keeps its ``passwd`` line;
- a device whose registry secret the broker cannot know (issued through
  ``POST /devices/{id}/credentials``, or ``DIR`` lost) is reported and nothing is written
  until it is rotated (``--rotate USERNAME``): rotating silently would cut it off;
- services (gateway, server, health check) take their passwords from the environment
  (``FACILITY_BROKER_GATEWAY_PASSWORD`` ...), else keep their line, else get a new one.

User names are ``{site}.{device}`` for devices (as the API issues them) and
``facility-gateway``, ``facility-server``, ``facility-health`` for services.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from facility_contracts.topics import PREFIX
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from facility_server.auth.passwords import hash_secret
from facility_server.models import Complex, Device

#: PBKDF2 iterations of ``mosquitto_passwd`` 2.0 (its default). Device secrets are 192-bit
#: random tokens, so the iteration count is not what protects them.
ITERATIONS = 101
SALT_BYTES = 12
KEY_BYTES = 64
STATE_FILE = "broker-auth.json"


class BrokerAuthError(RuntimeError):
    """The files cannot be generated as asked (unknown secrets, bad password file)."""


def mosquitto_hash(secret: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``$7$`` (PBKDF2-HMAC-SHA512) hash Mosquitto 2 reads from its password file."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations, KEY_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def mosquitto_verify(secret: str, hashed: str) -> bool:
    """True when ``secret`` matches a ``$7$`` hash; False for any other or malformed hash."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    try:
        iterations = int(parts[2])
        salt, key = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    got = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations, len(key))
    return hmac.compare_digest(got, key)


@dataclass(frozen=True, slots=True)
class Principal:
    """One broker credential and what it may do.

    Attributes:
        username: the MQTT user name.
        write: topic filters it may publish to.
        read: topic filters it may subscribe to and receive.
        device_id: the registry id of a device credential; None for a service.
        env: the environment variable holding a service's password.
    """

    username: str
    write: tuple[str, ...]
    read: tuple[str, ...]
    device_id: int | None = None
    env: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """What the export needs of a registry device (``via``: its edge agent's code)."""

    id: int
    site: str
    code: str
    transport: str
    via: str | None
    secret_hash: str | None


def _topic(site: str, device: str, channel: str) -> str:
    return f"{PREFIX}/{site}/{device}/{channel}"


def service_principals() -> list[Principal]:
    """Gateway (reads events and status of every site, confirms), server, health check."""
    evt, status, ack = (f"{PREFIX}/+/+/{c}" for c in ("evt", "status", "ack"))
    return [
        Principal(
            "facility-gateway", (ack,), (evt, status), env="FACILITY_BROKER_GATEWAY_PASSWORD"
        ),
        Principal("facility-server", (), (evt, status), env="FACILITY_BROKER_SERVER_PASSWORD"),
        Principal(
            "facility-health", (), ("$SYS/broker/uptime",), env="FACILITY_BROKER_HEALTH_PASSWORD"
        ),
    ]


def device_principals(rows: Iterable[DeviceRow]) -> tuple[list[Principal], list[str]]:
    """A principal per MQTT device; an edge agent also publishes for its serial devices.

    Returns:
        ``(principals, skipped)``: skipped are serial devices read by no edge agent
        (``site.code``), which nobody may publish for.
    """
    rows = list(rows)
    served: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r.transport != "mqtt" and r.via is not None:
            served.setdefault((r.site, r.via), []).append(r.code)
    out, covered = [], set()
    for r in rows:
        if r.transport != "mqtt":
            continue
        codes = [r.code, *sorted(served.get((r.site, r.code), []))]
        covered.update((r.site, c) for c in codes)
        write = [_topic(r.site, r.code, "status")]
        write += [_topic(r.site, c, "evt") for c in codes]
        read = tuple(_topic(r.site, c, "ack") for c in codes)
        out.append(Principal(f"{r.site}.{r.code}", tuple(write), read, device_id=r.id))
    skipped = [f"{r.site}.{r.code}" for r in rows if (r.site, r.code) not in covered]
    return sorted(out, key=lambda p: p.username), sorted(skipped)


def render_acl(principals: Iterable[Principal]) -> str:
    """Mosquitto's ACL file: nothing for anonymous clients, one block per user."""
    lines = ["# Generated by `facility server export-broker-auth`; do not edit.", ""]
    for p in principals:
        lines.append(f"user {p.username}")
        lines += [f"topic write {t}" for t in p.write]
        lines += [f"topic read {t}" for t in p.read]
        lines.append("")
    return "\n".join(lines)


def parse_passwd(text: str) -> dict[str, str]:
    """``username -> hash`` of a Mosquitto password file (blank and ``#`` lines skipped).

    Raises:
        BrokerAuthError: a line without ``:``.
    """
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep:
            raise BrokerAuthError(f"password file line {n}: no ':'")
        out[user] = hashed
    return out


def render_passwd(entries: Mapping[str, str]) -> str:
    """A Mosquitto password file, sorted by user name."""
    return "".join(f"{u}:{entries[u]}\n" for u in sorted(entries))


def fingerprint(registry_hash: str) -> str:
    """A short digest of a registry hash: says which issuance a line belongs to."""
    return hashlib.sha256(registry_hash.encode()).hexdigest()[:32]


@dataclass
class AuthPlan:
    """What an export writes.

    Attributes:
        passwd: user name -> Mosquitto hash, every principal.
        issued: user name -> new secret (print once; never stored).
        registry: device id -> new secret (its Argon2id hash goes to the registry).
        unknown: devices whose registry secret the broker cannot know (nothing is written).
        state: user name -> fingerprint of the registry hash, devices only.
    """

    passwd: dict[str, str] = field(default_factory=dict)
    issued: dict[str, str] = field(default_factory=dict)
    registry: dict[int, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    state: dict[str, str] = field(default_factory=dict)


def plan_auth(
    principals: Iterable[Principal],
    *,
    passwd: Mapping[str, str],
    state: Mapping[str, str],
    registry: Mapping[int, str | None],
    env: Mapping[str, str],
    rotate: Iterable[str] = (),
    new_secret: Callable[[], str] = lambda: secrets.token_urlsafe(24),
    hasher: Callable[[str], str] = mosquitto_hash,
) -> AuthPlan:
    """Decide each principal's password line (see the module docstring for the rules).

    Args:
        principals: devices and services.
        passwd: the current password file (user -> Mosquitto hash).
        state: the previous export's fingerprints (user -> fingerprint).
        registry: device id -> the registry's Argon2id hash (None: never issued).
        env: the environment (service passwords).
        rotate: user names to give a new secret, or ``"*"`` for every device.
    """
    rotate = set(rotate)
    plan = AuthPlan()
    for p in principals:
        u = p.username
        if p.device_id is None:
            wanted = env.get(p.env or "")
            if wanted:
                kept = passwd.get(u, "")
                plan.passwd[u] = kept if mosquitto_verify(wanted, kept) else hasher(wanted)
            elif u in passwd and u not in rotate:
                plan.passwd[u] = passwd[u]
            else:
                plan.issued[u] = secret = new_secret()
                plan.passwd[u] = hasher(secret)
            continue
        current = registry.get(p.device_id)
        if u in rotate or "*" in rotate or current is None:
            plan.issued[u] = plan.registry[p.device_id] = secret = new_secret()
            plan.passwd[u] = hasher(secret)
        elif u in passwd and state.get(u) == fingerprint(current):
            plan.passwd[u] = passwd[u]
            plan.state[u] = state[u]
        else:
            plan.unknown.append(u)
    return plan


def load_devices(session: Session) -> list[DeviceRow]:
    """Every registry device with its complex's site id and its edge agent's code."""
    via = aliased(Device)
    stmt = (
        select(Device, Complex.site_id, via.code)
        .join(Complex, Complex.id == Device.complex_id)
        .outerjoin(via, via.id == Device.via_id)
        .order_by(Complex.site_id, Device.code)
    )
    return [
        DeviceRow(d.id, site, d.code, d.transport, via_code, d.mqtt_secret_hash)
        for d, site, via_code in session.execute(stmt)
    ]


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export did: new secrets (print once), skipped serial devices, principals."""

    issued: dict[str, str]
    skipped: list[str]
    principals: int


def export_broker_auth(
    session: Session, out: Path, *, env: Mapping[str, str], rotate: Iterable[str] = ()
) -> ExportResult:
    """Generate ``passwd``, ``acl`` and the state file in ``out``; the caller commits.

    Registry hashes of new secrets are set in ``session`` before the files are written.

    Raises:
        BrokerAuthError: devices whose secret the broker cannot know (rotate them).
    """
    rows = load_devices(session)
    devices, skipped = device_principals(rows)
    principals = service_principals() + devices
    passwd_path, state_path = out / "passwd", out / STATE_FILE
    old_passwd = parse_passwd(passwd_path.read_text()) if passwd_path.exists() else {}
    old_state = json.loads(state_path.read_text())["devices"] if state_path.exists() else {}
    plan = plan_auth(
        principals,
        passwd=old_passwd,
        state=old_state,
        registry={r.id: r.secret_hash for r in rows},
        env=env,
        rotate=rotate,
    )
    if plan.unknown:
        raise BrokerAuthError(
            "the broker cannot know the secrets of "
            + ", ".join(plan.unknown)
            + " (issued elsewhere, or the output folder is new): rotate them with --rotate"
        )
    by_id = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(plan.registry)))}
    names = {p.device_id: p.username for p in devices}
    for device_id, secret in plan.registry.items():
        row = by_id[device_id]
        row.mqtt_username = names[device_id]
        row.mqtt_secret_hash = hash_secret(secret)
        plan.state[names[device_id]] = fingerprint(row.mqtt_secret_hash)
    session.flush()
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "acl", render_acl(principals))
    _write(passwd_path, render_passwd(plan.passwd))
    _write(state_path, json.dumps({"version": 1, "devices": plan.state}, indent=2, sort_keys=True))
    return ExportResult(plan.issued, skipped, len(principals))


def export_broker_auth_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder for passwd, acl and state.")],
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: settings).")
    ] = None,
    rotate: Annotated[
        list[str] | None,
        typer.Option("--rotate", help="User name to give a new secret ('*': every device)."),
    ] = None,
) -> None:
    """Write Mosquitto's password and ACL files from the registry; new secrets printed once."""
    from facility_server.core.db import make_engine, session_factory, session_scope
    from facility_server.core.migrate import upgrade
    from facility_server.core.settings import get_settings

    url = db or get_settings().database_url
    upgrade(url)
    try:
        with session_scope(session_factory(make_engine(url))) as session:
            result = export_broker_auth(session, out, env=os.environ, rotate=rotate or ())
    except BrokerAuthError as exc:
        typer.echo(f"export-broker-auth: {exc}", err=True)
        raise typer.Exit(2) from exc
    for name in result.skipped:
        typer.echo(f"skipped {name}: a serial device read by no edge agent", err=True)
    typer.echo(
        f"{out}: {result.principals} credentials, {len(result.issued)} new secret(s) "
        "(shown once below: user secret); reload the broker",
        err=True,
    )
    for user, secret in sorted(result.issued.items()):
        typer.echo(f"{user} {secret}")
