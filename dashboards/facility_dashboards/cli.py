"""``facility dashboards ...``: generate, check and push the dashboards.

Registered under the ``facility.cli`` entry-point group as ``dashboards``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from facility_dashboards import build
from facility_dashboards.core import FOLDER_TITLE, FOLDER_UID

app = typer.Typer(help="Grafana dashboards as code.", no_args_is_help=True)
RootOpt = Annotated[Path, typer.Option("--root", help="The dashboards/ folder.")]


@app.command()
def generate(root: RootOpt = build.ROOT) -> None:
    """Write generated/*.json and provisioning/* from the code."""
    changed = build.write(root)
    typer.echo("\n".join(changed) if changed else "up to date", err=not changed)


@app.command()
def check(root: RootOpt = build.ROOT) -> None:
    """Exit 1 when the committed files differ from the code (run generate)."""
    stale = build.check(root)
    if stale:
        typer.echo("out of date: " + ", ".join(stale) + " (run `facility dashboards generate`)")
        raise typer.Exit(1)
    typer.echo("up to date")


@app.command()
def push(
    url: Annotated[str, typer.Option(envvar="GRAFANA_URL", help="Grafana base URL.")],
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    dry_run: Annotated[bool, typer.Option(help="Print the plan, change nothing.")] = False,
    timeout_s: float = 10.0,
) -> None:
    """Upload the dashboards to Grafana (token: GRAFANA_TOKEN, a service-account token)."""
    import requests
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaException

    from facility_dashboards.push import push as do_push

    token = os.environ.get("GRAFANA_TOKEN")
    if not token:
        typer.echo("set GRAFANA_TOKEN to a Grafana service-account token (Editor)", err=True)
        raise typer.Exit(2)
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    try:
        folder, steps = do_push(
            api,
            build.dashboards(),
            folder_uid=folder_uid,
            folder_title=folder_title,
            dry_run=dry_run,
        )
    except (GrafanaException, requests.RequestException) as exc:
        typer.echo(f"push to {url} failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"folder {folder_uid}: {folder}")
    for step in steps:
        typer.echo(f"{step.action:9} {step.uid}  {step.title}")
