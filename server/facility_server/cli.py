"""``facility server ...``: migrate, import/export a setup file, create accounts, run.

Registered under the ``facility.cli`` entry-point group as ``server``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from alembic.util.exc import CommandError
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from facility_server.auth.roles import Role, ScopeKind
from facility_server.broker_auth_export import export_broker_auth_cmd
from facility_server.cli_values import instant_option
from facility_server.core.db import make_engine, session_factory, session_scope
from facility_server.core.migrate import upgrade
from facility_server.core.settings import get_settings
from facility_server.vitals.cli import app as vitals_app

app = typer.Typer(help="The server: registry, accounts, device health, API.", no_args_is_help=True)
console = Console()
DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL (default: settings).")]
#: Where ``create-account`` reads a person's password when it does not ask for it.
NEW_PASSWORD_ENV = "FACILITY_NEW_PASSWORD"  # noqa: S105 - a variable name
app.command("export-broker-auth")(export_broker_auth_cmd)
app.add_typer(vitals_app, name="vitals")


def _fail(message: object, code: int = 1) -> NoReturn:
    """Print ``message`` in red as it is (no rich markup in it) and exit with ``code``."""
    console.print(f"[red]{escape(str(message))}[/red]", soft_wrap=True)
    raise typer.Exit(code)


def _shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the database URL"


@contextmanager
def _database_errors(url: str) -> Iterator[None]:
    """Turn a database failure into one line and exit 2 (no traceback, no SQL)."""
    try:
        yield
    except ArgumentError as exc:  # includes NoSuchModuleError: an unknown scheme
        _fail(
            f"{_shown_url(url)}: not a database URL this server can use ({exc}); "
            "use sqlite:///path/facility.db or postgresql+psycopg://user@host/db",
            2,
        )
    except DBAPIError as exc:
        reason = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
        _fail(f"database error ({_shown_url(url)}): {reason}", 2)
    except (SQLAlchemyError, CommandError) as exc:
        _fail(f"database error ({_shown_url(url)}): {str(exc).strip().splitlines()[0]}", 2)


def _url(db: str | None) -> str:
    return db or get_settings().database_url


def _factory(url: str):  # type: ignore[no-untyped-def]
    upgrade(url)
    return session_factory(make_engine(url))


@app.command()
def migrate(db: DbOpt = None) -> None:
    """Create or upgrade the database schema to the newest migration."""
    url = _url(db)
    with _database_errors(url):
        upgrade(url)
    console.print(f"[green]database at head[/green]: {escape(_shown_url(url))}")


@app.command("import")
def import_cmd(path: Path, db: DbOpt = None) -> None:
    """Load a whole complex from a setup file (idempotent)."""
    from facility_server.auth.audit import record
    from facility_server.setup import SetupError, import_setup

    url = _url(db)
    try:
        with _database_errors(url), session_scope(_factory(url)) as session:
            report = import_setup(session, path)
            record(
                session,
                None,
                "setup.import",
                f"complex:{report.site_id}",
                "ok",
                {"file": str(path)},
            )
    except (SetupError, OSError) as exc:
        _fail(f"{path}: {exc}")
    for label, counts in (
        ("created", report.created),
        ("updated", report.updated),
        ("deleted", report.deleted),
        ("unchanged", report.unchanged),
    ):
        if counts:
            console.print(f"{label}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for note in report.notes:
        console.print(escape(note), soft_wrap=True)
    console.print(
        f"[green]{report.site_id}: {'changed' if report.changed else 'no changes'}[/green]"
    )


@app.command()
def export(
    site_id: str, out: Annotated[Path | None, typer.Option("-o", "--out")] = None, db: DbOpt = None
) -> None:
    """Write a complex as a setup file (to stdout by default)."""
    from facility_server.setup import export_setup

    url = _url(db)
    with _database_errors(url), session_scope(_factory(url)) as session:
        try:
            text = export_setup(session, site_id)
        except LookupError as exc:
            _fail(exc)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@app.command("create-account")
def create_account_cmd(
    username: str,
    role: Role,
    scope_kind: ScopeKind = ScopeKind.city,
    scope_id: int | None = None,
    db: DbOpt = None,
) -> None:
    """Create an account (a machine's API token is printed once).

    A person's password comes from FACILITY_NEW_PASSWORD or is asked for (hidden), never
    from the command line, where ps and the shell history would show it.
    """
    from facility_server.auth.accounts import AccountError, create_account
    from facility_server.auth.roles import MACHINE_ROLES

    password = None
    if Role(role) not in MACHINE_ROLES:
        password = os.environ.get(NEW_PASSWORD_ENV) or typer.prompt(
            f"Password for {username}", hide_input=True, confirmation_prompt=True
        )
    url = _url(db)
    try:
        with _database_errors(url), session_scope(_factory(url)) as session:
            account, token = create_account(
                session, username, role, scope_kind, scope_id, password=password
            )
    except AccountError as exc:
        _fail(exc)
    console.print(f"[green]account {account.id} {escape(username)} ({role}, {scope_kind})[/green]")
    if token:
        typer.echo(token)


@app.command()
def health(db: DbOpt = None) -> None:
    """Print device health now (evaluated live) as JSON."""
    from facility_server.health.tick import device_health_summary

    url = _url(db)
    with _database_errors(url), session_scope(_factory(url)) as session:
        summary = device_health_summary(
            session, datetime.now(UTC), get_settings().default_heartbeat_s
        )
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))


@app.command()
def compliance(
    site_id: str,
    at: Annotated[str | None, typer.Option(help="ISO instant with zone; default now.")] = None,
    db: DbOpt = None,
) -> None:
    """Print a complex's compliance board for the day (evaluated live) as JSON."""
    from sqlalchemy import select

    from facility_server.compliance.tick import evaluate_today
    from facility_server.models import Complex, Space

    now = instant_option(at, "--at") if at else datetime.now(UTC)
    url = _url(db)
    with _database_errors(url), session_scope(_factory(url)) as session:
        cx = session.scalar(select(Complex).where(Complex.site_id == site_id))
        if cx is None:
            _fail(f"no complex {site_id}")
        spaces = list(session.scalars(select(Space.id).where(Space.complex_id == cx.id)))
        board = [
            {
                "space": space.code,
                "rule": info.code,
                "occurrences": [
                    {"key": o.key, "state": o.state, "missing": list(o.missing), "reason": o.reason}
                    for o in occs
                ],
            }
            for info, space, occs in evaluate_today(session, spaces, now)
        ]
    typer.echo(json.dumps(board, ensure_ascii=False, indent=2))


#: Settings that ``run`` also takes as options (its error messages name both).
_RUN_OPTIONS = {"database_url": "--db", "mqtt_url": "--mqtt", "host": "--host", "port": "--port"}


@app.command()
def run(
    db: DbOpt = None,
    host: str | None = None,
    port: int | None = None,
    mqtt: Annotated[
        str | None, typer.Option(help="Broker URL, mqtt://host:port or mqtts://host:port")
    ] = None,
    ingest: Annotated[
        bool, typer.Option("--ingest/--no-ingest", help="Subscribe to the broker.")
    ] = True,
) -> None:
    """Serve the API (uvicorn) with the MQTT ingest, the device-health tick, the
    compliance runner (evaluation, escalation, notifications, daily series), the
    utilisation runner and the health-kiosk runner (hourly aggregates, daily purge)."""
    import uvicorn

    from facility_server.api.app import create_app
    from facility_server.compliance.runner import ComplianceRunner, make_series_writer
    from facility_server.health.runner import HealthTicker
    from facility_server.ingest.subscriber import Ingest
    from facility_server.utilisation.runner import UtilisationRunner
    from facility_server.vitals.runner import VitalsRunner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    overrides = {
        k: v
        for k, v in (("database_url", db), ("host", host), ("port", port), ("mqtt_url", mqtt))
        if v is not None
    }
    try:
        settings = get_settings(**overrides)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]  # no input: a URL may hold a password
        name = ".".join(map(str, err["loc"]))
        env = f"FACILITY_SERVER_{name.upper()}"
        where = f"{_RUN_OPTIONS[name]} or {env}" if name in _RUN_OPTIONS else env
        _fail(f"{where}: {err['msg'].removeprefix('Value error, ')}", 2)
    with _database_errors(settings.database_url):
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
    factory = session_factory(engine)

    def clock() -> datetime:
        return datetime.now(UTC)

    ticker = HealthTicker(factory, clock, settings.health_tick_s, settings.default_heartbeat_s)
    subscriber = (
        Ingest(
            factory,
            settings.mqtt_url,
            client_id=settings.mqtt_client_id,
            share_group=settings.mqtt_share_group,
            clock=clock,
            vitals_retention_days=settings.vitals_retention_days,
        )
        if ingest
        else None
    )
    series_writer = make_series_writer(settings)
    compliance = ComplianceRunner(factory, clock, settings, writer=series_writer)
    utilisation = UtilisationRunner(factory, clock, writer=series_writer)
    vitals = VitalsRunner(
        factory,
        clock,
        retention_days=settings.vitals_retention_days,
        visitor_keep_s=settings.vitals_visitor_keep_s,
        interval_s=settings.vitals_tick_s,
        writer=series_writer,
    )
    ticker.start()
    compliance.start()
    utilisation.start()
    vitals.start()
    if subscriber is not None:
        subscriber.start()
    try:
        uvicorn.run(
            create_app(settings, engine=engine, clock=clock), host=settings.host, port=settings.port
        )
    finally:
        if subscriber is not None:
            subscriber.stop()
        vitals.stop()
        utilisation.stop()
        compliance.stop()
        ticker.stop()
