"""``facility dashboards ...``: generate, check and push the dashboards.

Registered under the ``facility.cli`` entry-point group as ``dashboards``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from facility_dashboards import build
from facility_dashboards.core import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID
from facility_dashboards.push import DatasourceCheck, NotGrafana, Step, check_uid, grafana_url

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
    if not root.is_dir():
        typer.echo(f"--root {root}: no such folder", err=True)
        raise typer.Exit(2)
    stale = build.check(root)
    if stale:
        typer.echo("out of date: " + ", ".join(stale) + " (run `facility dashboards generate`)")
        raise typer.Exit(1)
    typer.echo("up to date")


def _print_plan(
    datasource: DatasourceCheck, folder_uid: str, folder: str, steps: list[Step]
) -> None:
    typer.echo(f"datasource {datasource.uid}: {datasource.detail}")
    typer.echo(f"folder {folder_uid}: {folder}")
    for step in steps:
        typer.echo(f"{step.action:9} {step.uid}  {step.title}")


def _checked(check: Callable[[str], str]) -> Callable[[str], str]:
    def callback(value: str) -> str:
        try:
            return check(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc

    return callback


@app.command()
def push(
    url: Annotated[
        str,
        typer.Option(
            envvar="GRAFANA_URL", help="Grafana base URL.", callback=_checked(grafana_url)
        ),
    ],
    folder_uid: Annotated[str, typer.Option(callback=_checked(check_uid))] = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    dry_run: Annotated[bool, typer.Option(help="Print the plan, change nothing.")] = False,
    allow_missing_datasource: Annotated[
        bool,
        typer.Option(
            "--allow-missing-datasource",
            help=f"Push even when the datasource {DATASOURCE_UID} is missing or not InfluxQL.",
        ),
    ] = False,
    timeout_s: float = 10.0,
) -> None:
    """Upload the dashboards to Grafana (token: GRAFANA_TOKEN, a service-account token).

    The datasource uid every panel uses must exist there (docs/deploy.md).
    """
    import requests
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaException

    from facility_dashboards.push import check_datasource
    from facility_dashboards.push import push as do_push

    token = os.environ.get("GRAFANA_TOKEN")
    if not token:
        typer.echo("set GRAFANA_TOKEN to a Grafana service-account token (Editor)", err=True)
        raise typer.Exit(2)
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    try:
        datasource = check_datasource(api)
        refuse = datasource.blocks and not allow_missing_datasource
        folder, steps = do_push(
            api,
            build.dashboards(),
            folder_uid=folder_uid,
            folder_title=folder_title,
            dry_run=dry_run or refuse,
        )
    except NotGrafana as exc:
        typer.echo(f"the server at {url} did not answer like Grafana's HTTP API: {exc}", err=True)
        raise typer.Exit(1) from exc
    except (GrafanaException, requests.RequestException) as exc:
        typer.echo(f"push to {url} failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    _print_plan(datasource, folder_uid, folder, steps)
    if refuse and not dry_run:
        typer.echo(
            f"nothing pushed: datasource {datasource.uid}: {datasource.detail}. Create it "
            "(docs/deploy.md, 'Pushing to another Grafana') or pass --allow-missing-datasource",
            err=True,
        )
        raise typer.Exit(1)
