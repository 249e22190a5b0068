"""``facility demo``: a simulated complex on embedded defaults, ending with a summary.

Everything runs in this process on embedded defaults: an in-process MQTT broker (amqtt),
the server's registry in SQLite (set up from ``server/examples/setup.yaml`` through the
same import as ``facility server import``), the gateway with the embedded SQLite point
store, one edge agent reading every door counter of the complex over pseudo-terminals,
and firmware-sim door counters each replaying a different week of the real CalIt2 door
traffic, re-timed to end before now. The summary compares what was stored with the
file's own counts.

Before that live part, one past day of the children's play area is simulated with a
stepped clock (:mod:`facility_cli.demo_day`): a missed morning disinfection and a missed
afternoon patrol round, their alerts, the escalation of one and the notifications
enqueued (nothing is sent).

A health kiosk in the elderly-care centre (:mod:`facility_cli.demo_kiosk`) sends a morning
of readings to the complex's own LAN broker (a second embedded broker); the edge agent
pseudonymises them, the server counts them, keeps values only with consent and alerts the
clinician on duty about the one crisis reading; the summary shows counts only, and the
demo scans its point store for member references and reading values.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Run the demo: a simulated complex on embedded defaults.",
    invoke_without_command=True,
    add_completion=False,
)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SETUP = ROOT / "server" / "examples" / "setup.yaml"
DEFAULT_CALIT2 = ROOT.parent / "shared" / "data" / "calit2-door-counts.csv"


@app.callback()
def demo(
    summary: Annotated[
        Path | None, typer.Option(help="Also write the summary as JSON here.")
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Keep the demo's databases here (default: a temporary folder)."),
    ] = None,
    setup: Annotated[
        Path, typer.Option(help="Complex setup file (server import format).")
    ] = DEFAULT_SETUP,
    calit2: Annotated[
        Path, typer.Option(help="CalIt2 door-count file to replay.")
    ] = DEFAULT_CALIT2,
    weeks: Annotated[
        int, typer.Option(min=1, max=15, help="Weeks of traffic each door counter replays.")
    ] = 1,
    timeout: Annotated[
        float, typer.Option(min=10, help="Give up after this many seconds.")
    ] = 600.0,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what each part does.")
    ] = False,
) -> None:
    """Simulate a day of safety tasks, replay real door traffic through sim -> pty -> edge
    -> MQTT -> gateway -> store, and print a summary."""
    from facility_cli.demo_run import DemoError, run_demo
    from facility_cli.demo_summary import render

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    for path, what in ((setup, "--setup"), (calit2, "--calit2")):
        if not path.is_file():
            raise typer.BadParameter(f"{what} {path}: no such file")
    try:
        result = run_demo(
            setup=setup, calit2=calit2, weeks=weeks, workdir=workdir, timeout_s=timeout
        )
    except DemoError as exc:
        typer.secho(f"demo failed: {exc}", err=True, fg="red")
        raise typer.Exit(1) from exc
    render(result)
    if summary is not None:
        summary.write_text(
            json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        typer.echo(f"summary written to {summary}")
    if not (
        result["pipeline"]["all_stored_exactly"]
        and result["safety_tasks"]["as_planned"]
        and result["health_kiosk"]["as_planned"]
    ):
        raise typer.Exit(1)
