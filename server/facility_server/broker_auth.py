"""The production broker's password and ACL files, generated from the device registry.

``facility server export-broker-auth --db URL --out DIR`` (:mod:`.broker_auth_export`)
writes three files to ``DIR``:

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
- a credential in the current files that the registry no longer has is not dropped
  without ``--allow-removal`` (a wrong ``--db`` must not lock every device out);
- services (gateway, server, health check) take their passwords from the environment
  (``FACILITY_BROKER_GATEWAY_PASSWORD`` ...), else keep their line; a service with
  neither gets a new password only with ``--new-service-passwords`` (it must then be
  copied into ``deploy/.env``, or the service cannot connect).

User names are ``{site}.{device}`` for devices (as the API issues them) and
``facility-gateway``, ``facility-server``, ``facility-health`` for services.
This module is pure (no files, no database).
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from facility_contracts.topics import PREFIX

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
    out: list[Principal] = []
    covered: set[tuple[str, str]] = set()
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


def check_rotate(
    rotate: Iterable[str],
    principals: Iterable[Principal],
    rows: Iterable[DeviceRow],
    env: Mapping[str, str],
) -> None:
    """Refuse ``--rotate`` names that would rotate nothing.

    Raises:
        BrokerAuthError: a name that is no credential (a typo: close names suggested), a
            serial device (its edge agent holds the credential), or a service whose
            password comes from the environment (change it there).
    """
    users = {p.username: p for p in principals}
    others = {f"{r.site}.{r.code}": r for r in rows if f"{r.site}.{r.code}" not in users}
    problems = []
    for name in sorted(set(rotate) - {"*"}):
        p, row = users.get(name), others.get(name)
        if row is not None:
            agent = f"; its edge agent {row.site}.{row.via} publishes for it" if row.via else ""
            problems.append(f"{name} is a {row.transport} device with no broker credential{agent}")
        elif p is None:
            close = difflib.get_close_matches(name, list(users), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            problems.append(f"{name!r} is no device or service of the registry{hint}")
        elif p.env and env.get(p.env):
            problems.append(f"{name}: its password comes from {p.env}; change it there")
    if problems:
        raise BrokerAuthError("--rotate: " + "; ".join(problems))


def removed_users(
    principals: Iterable[Principal], passwd: Mapping[str, str], state: Mapping[str, str]
) -> list[str]:
    """User names of the current files (password lines, state) that the export would drop."""
    keep = {p.username for p in principals}
    return sorted((set(passwd) | set(state)) - keep)


def missing_service_passwords(
    principals: Iterable[Principal], plan: AuthPlan, rotate: Iterable[str]
) -> dict[str, str]:
    """Services the plan invented a password for without being asked: user -> variable."""
    asked = set(rotate)
    return {
        p.username: p.env or ""
        for p in principals
        if p.device_id is None and p.username in plan.issued and p.username not in asked
    }
