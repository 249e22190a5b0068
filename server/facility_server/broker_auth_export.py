"""``facility server export-broker-auth``: the broker's files from the registry (I/O shell).

The rules are in :mod:`facility_server.broker_auth` (pure). This shell:

- opens the registry only if it exists, is migrated to the newest revision and holds at
  least one complex (:func:`facility_server.core.existing.open_existing`): it never
  creates or migrates a database, so a typo in ``--db`` cannot produce empty files;
- reads the current ``passwd`` and ``broker-auth.json`` in ``--out`` (a damaged file is
  named with the line, field or byte at fault, and nothing is written);
- refuses to drop credentials the current files hold unless ``--allow-removal``;
- copies the files it replaces to ``--out/backups/<UTC time>/`` before writing the new
  ones, each atomically and mode 0600.

Exit codes: 0 written; 2 refused (nothing written, the registry unchanged).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import func, make_url, select
from sqlalchemy.orm import Session, aliased

from facility_server.auth.passwords import hash_secret
from facility_server.broker_auth import (
    STATE_FILE,
    AuthPlan,
    BrokerAuthError,
    DeviceRow,
    Principal,
    check_rotate,
    device_principals,
    fingerprint,
    missing_service_passwords,
    parse_passwd,
    plan_auth,
    removed_users,
    render_acl,
    render_passwd,
    service_principals,
)
from facility_server.core.existing import DatabaseNotReady
from facility_server.models import Complex, Device

#: The files of an export, in the order they are written.
FILES = ("acl", "passwd", STATE_FILE)
#: Sub-folder of ``--out`` holding a copy of the files each export replaced.
BACKUPS = "backups"


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


def _damaged(path: Path, what: str) -> BrokerAuthError:
    return BrokerAuthError(
        f"{path}: {what}; restore it from {path.parent / BACKUPS}/ (or delete it and "
        "rotate every device: --rotate '*')"
    )


def parse_state(text: str, path: Path) -> dict[str, str]:
    """``user -> fingerprint`` from the state file's text (``path`` names it in errors).

    Raises:
        BrokerAuthError: not JSON, no ``devices`` field, or not an object of strings.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise _damaged(path, f"not JSON ({where})") from exc
    if not isinstance(data, dict) or "devices" not in data:
        raise _damaged(path, "field 'devices' missing (an object: user name -> fingerprint)")
    devices = data["devices"]
    if not isinstance(devices, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in devices.items()
    ):
        raise _damaged(path, "field 'devices' is not an object of user name -> fingerprint")
    return dict(devices)


@dataclass(frozen=True, slots=True)
class CurrentFiles:
    """The files in ``--out`` before the export: parsed, and as text (for the backup)."""

    passwd: dict[str, str]
    state: dict[str, str]
    texts: dict[str, str]


def read_current(out: Path) -> CurrentFiles:
    """Read and check the current files in ``out`` (all absent: a first export).

    Raises:
        BrokerAuthError: ``out`` is not a folder; a file is not UTF-8, a password line has
            no ``:``, or the state file is damaged (see :func:`parse_state`).
    """
    if out.exists() and not out.is_dir():
        raise BrokerAuthError(f"--out {out}: exists and is not a folder")
    texts = {}
    for name in FILES:
        path = out / name
        if path.exists():
            data = path.read_bytes()
            try:
                texts[name] = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = data[: exc.start].count(b"\n") + 1
                raise _damaged(path, f"not UTF-8 text (line {line}, byte {exc.start})") from exc
    try:
        passwd = parse_passwd(texts.get("passwd", ""))
    except BrokerAuthError as exc:
        raise _damaged(out / "passwd", str(exc)) from exc
    state = parse_state(texts[STATE_FILE], out / STATE_FILE) if STATE_FILE in texts else {}
    return CurrentFiles(passwd, state, texts)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def backup(out: Path, texts: Mapping[str, str], now: datetime) -> Path:
    """Copy ``texts`` (file name -> text) to ``out/backups/<UTC time>/``; that folder."""
    (out / BACKUPS).mkdir(mode=0o700, exist_ok=True)
    folder = out / BACKUPS / now.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    folder.mkdir(mode=0o700)
    for name, text in texts.items():
        _write(folder / name, text)
    return folder


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export did.

    Attributes:
        issued: user -> new secret (print once; never stored).
        skipped: serial devices read by no edge agent (``site.code``).
        principals: how many credentials the files hold.
        removed: users of the previous files that are gone (``--allow-removal``).
        new_services: services given a new password: user -> its environment variable.
        backup: the folder holding the replaced files; None when nothing changed.
    """

    issued: dict[str, str]
    skipped: list[str]
    principals: int
    removed: list[str]
    new_services: dict[str, str]
    backup: Path | None


def _refusals(
    plan: AuthPlan, removed: Sequence[str], invented: Mapping[str, str], out: Path, **allow: bool
) -> None:
    if plan.unknown:
        raise BrokerAuthError(
            "the broker cannot know the secrets of "
            + ", ".join(plan.unknown)
            + " (issued elsewhere, or the output folder is new): rotate them with --rotate"
        )
    if removed and not allow["removal"]:
        shown = ", ".join(removed[:10]) + (
            f" and {len(removed) - 10} more" if len(removed) > 10 else ""
        )
        raise BrokerAuthError(
            f"{out} holds {len(removed)} credential(s) this registry does not have: {shown}. "
            "A wrong --db? If they left the registry, run again with --allow-removal"
        )
    if invented and not allow["services"]:
        raise BrokerAuthError(
            "no password for "
            + ", ".join(f"{u} (set {var})" for u, var in sorted(invented.items()))
            + " in the environment or the current passwd: pass them with -e (values from "
            "deploy/.env), or --new-service-passwords to have new ones made and printed"
        )


def _issue(session: Session, plan: AuthPlan, devices: Sequence[Principal]) -> None:
    """Store the Argon2id hash of each new device secret; fingerprint it in the state."""
    by_id = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(plan.registry)))}
    names = {p.device_id: p.username for p in devices}
    for device_id, secret in plan.registry.items():
        row = by_id[device_id]
        row.mqtt_username = names[device_id]
        row.mqtt_secret_hash = hash_secret(secret)
        plan.state[names[device_id]] = fingerprint(row.mqtt_secret_hash)
    session.flush()


def export_broker_auth(
    session: Session,
    out: Path,
    *,
    env: Mapping[str, str],
    rotate: Sequence[str] = (),
    allow_removal: bool = False,
    new_service_passwords: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExportResult:
    """Generate ``passwd``, ``acl`` and the state file in ``out``; the caller commits.

    Registry hashes of new secrets are set in ``session`` before the files are written.

    Raises:
        BrokerAuthError: a bad ``--rotate`` name, damaged current files, devices whose
            secret the broker cannot know, credentials that would be dropped without
            ``allow_removal``, services without a password (``new_service_passwords``).
    """
    rows = load_devices(session)
    devices, skipped = device_principals(rows)
    principals = service_principals() + devices
    check_rotate(rotate, principals, rows, env)
    current = read_current(out)
    removed = removed_users(principals, current.passwd, current.state)
    plan = plan_auth(
        principals,
        passwd=current.passwd,
        state=current.state,
        registry={r.id: r.secret_hash for r in rows},
        env=env,
        rotate=rotate,
    )
    invented = missing_service_passwords(principals, plan, rotate)
    _refusals(plan, removed, invented, out, removal=allow_removal, services=new_service_passwords)
    _issue(session, plan, devices)
    texts = {
        "acl": render_acl(principals),
        "passwd": render_passwd(plan.passwd),
        STATE_FILE: json.dumps({"version": 1, "devices": plan.state}, indent=2, sort_keys=True),
    }
    out.mkdir(parents=True, exist_ok=True)
    changed = any(current.texts.get(name) != text for name, text in texts.items())
    saved = backup(out, current.texts, clock()) if changed and current.texts else None
    for name in FILES:
        _write(out / name, texts[name])
    services = {p.username: p.env or "" for p in principals if p.username in plan.issued}
    return ExportResult(plan.issued, skipped, len(principals), removed, services, saved)


def _export(url: str, out: Path, env: Mapping[str, str], **options: object) -> ExportResult:
    from facility_server.core.db import session_factory, session_scope
    from facility_server.core.existing import open_existing

    engine = open_existing(url)
    try:
        with session_scope(session_factory(engine)) as session:
            if not session.scalar(select(func.count()).select_from(Complex)):
                raise DatabaseNotReady(
                    f"{make_url(url).render_as_string(hide_password=True)}: no complex in the "
                    "registry (a wrong --db? else import the setup files first)"
                )
            return export_broker_auth(session, out, env=env, **options)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def _report(out: Path, result: ExportResult) -> None:
    for name in result.skipped:
        typer.echo(f"skipped {name}: a serial device read by no edge agent", err=True)
    if result.removed:
        typer.echo(f"removed: {', '.join(result.removed)}", err=True)
    if result.backup is not None:
        typer.echo(f"previous files kept in {result.backup}", err=True)
    for user, var in sorted(result.new_services.items()):
        typer.echo(
            f"WARNING: {user} has a NEW password (below): put it into deploy/.env as {var}=..., "
            "or that service cannot connect to the broker",
            err=True,
        )
    typer.echo(
        f"{out}: {result.principals} credentials, {len(result.issued)} new secret(s) "
        "(shown once below: user secret); reload the broker",
        err=True,
    )
    for user, secret in sorted(result.issued.items()):
        typer.echo(f"{user} {secret}")


def export_broker_auth_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder for passwd, acl and state.")],
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: settings).")
    ] = None,
    rotate: Annotated[
        list[str] | None,
        typer.Option("--rotate", help="User name to give a new secret ('*': every device)."),
    ] = None,
    allow_removal: Annotated[
        bool,
        typer.Option(
            "--allow-removal", help="Drop credentials of the current files the registry lacks."
        ),
    ] = False,
    new_service_passwords: Annotated[
        bool,
        typer.Option(
            "--new-service-passwords",
            help="Make (and print) passwords for services without one in the environment.",
        ),
    ] = False,
) -> None:
    """Write Mosquitto's password and ACL files from the registry; new secrets printed once.

    The database must exist and be migrated: this never creates one.

    Service passwords: FACILITY_BROKER_{GATEWAY,SERVER,HEALTH}_PASSWORD.
    """
    from facility_server.cli import _database_errors  # cli imports this module
    from facility_server.core.settings import get_settings

    url = db or get_settings().database_url
    options = {"allow_removal": allow_removal, "new_service_passwords": new_service_passwords}
    try:
        with _database_errors(url):
            result = _export(url, out, os.environ, rotate=tuple(rotate or ()), **options)
    except (BrokerAuthError, DatabaseNotReady) as exc:
        typer.echo(f"export-broker-auth: {exc}", err=True)
        raise typer.Exit(2) from exc
    except OSError as exc:
        typer.echo(f"export-broker-auth: {exc.filename or out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from exc
    _report(out, result)
