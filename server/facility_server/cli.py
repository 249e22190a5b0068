"""``facility server ...``: migrate, import/export a setup file, create accounts, run.

Registered under the ``facility.cli`` entry-point group as ``server``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from facility_server.auth.roles import Role, ScopeKind
from facility_server.core.db import make_engine, session_factory, session_scope
from facility_server.core.migrate import upgrade
from facility_server.core.settings import get_settings

app = typer.Typer(help="The server: registry, accounts, device health, API.", no_args_is_help=True)
console = Console()
DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL (default: settings).")]


def _url(db: str | None) -> str:
    return db or get_settings().database_url


def _factory(url: str):  # type: ignore[no-untyped-def]
    upgrade(url)
    return session_factory(make_engine(url))


@app.command()
def migrate(db: DbOpt = None) -> None:
    """Create or upgrade the database schema to the newest migration."""
    upgrade(_url(db))
    console.print(f"[green]database at head[/green]: {_url(db)}")


@app.command("import")
def import_cmd(path: Path, db: DbOpt = None) -> None:
    """Load a whole complex from a setup file (idempotent)."""
    from facility_server.auth.audit import record
    from facility_server.setup import SetupError, import_setup

    try:
        with session_scope(_factory(_url(db))) as session:
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
        console.print(f"[red]{path}: {exc}[/red]")
        raise typer.Exit(1) from exc
    for label, counts in (
        ("created", report.created),
        ("updated", report.updated),
        ("deleted", report.deleted),
        ("unchanged", report.unchanged),
    ):
        if counts:
            console.print(f"{label}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    console.print(
        f"[green]{report.site_id}: {'changed' if report.changed else 'no changes'}[/green]"
    )


@app.command()
def export(
    site_id: str, out: Annotated[Path | None, typer.Option("-o", "--out")] = None, db: DbOpt = None
) -> None:
    """Write a complex as a setup file (to stdout by default)."""
    from facility_server.setup import export_setup

    with session_scope(_factory(_url(db))) as session:
        try:
            text = export_setup(session, site_id)
        except LookupError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
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
    password: Annotated[str | None, typer.Option(envvar="FACILITY_NEW_PASSWORD")] = None,
    db: DbOpt = None,
) -> None:
    """Create an account (a machine's API token is printed once)."""
    from facility_server.auth.accounts import AccountError, create_account

    try:
        with session_scope(_factory(_url(db))) as session:
            account, token = create_account(
                session, username, role, scope_kind, scope_id, password=password
            )
    except AccountError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"[green]account {account.id} {username} ({role}, {scope_kind})[/green]")
    if token:
        typer.echo(token)


@app.command()
def health(db: DbOpt = None) -> None:
    """Print device health now (evaluated live) as JSON."""
    from facility_server.health.tick import device_health_summary

    with session_scope(_factory(_url(db))) as session:
        summary = device_health_summary(
            session, datetime.now(UTC), get_settings().default_heartbeat_s
        )
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))


@app.command()
def run(
    db: DbOpt = None,
    host: str | None = None,
    port: int | None = None,
    mqtt: Annotated[str | None, typer.Option(help="Broker URL, mqtt://host:port")] = None,
    no_ingest: bool = False,
) -> None:
    """Serve the API (uvicorn) with the MQTT ingest and the device-health tick."""
    import uvicorn

    from facility_server.api.app import create_app
    from facility_server.health.runner import HealthTicker
    from facility_server.ingest.subscriber import Ingest

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    overrides = {
        k: v
        for k, v in (("database_url", db), ("host", host), ("port", port), ("mqtt_url", mqtt))
        if v is not None
    }
    settings = get_settings(**overrides)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = session_factory(engine)

    def clock() -> datetime:
        return datetime.now(UTC)

    ticker = HealthTicker(factory, clock, settings.health_tick_s, settings.default_heartbeat_s)
    ingest = (
        None
        if no_ingest
        else Ingest(
            factory,
            settings.mqtt_url,
            client_id=settings.mqtt_client_id,
            share_group=settings.mqtt_share_group,
            clock=clock,
        )
    )
    ticker.start()
    if ingest is not None:
        ingest.start()
    try:
        uvicorn.run(
            create_app(settings, engine=engine, clock=clock), host=settings.host, port=settings.port
        )
    finally:
        if ingest is not None:
            ingest.stop()
        ticker.stop()
