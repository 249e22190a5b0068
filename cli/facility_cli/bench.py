"""``facility bench``: benchmarks that print figures (the last line is one JSON object).

They are not timed tests: each measures its floor in the same run and reports ratios, so
a slow or busy machine shows as low figures, not as a failure.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(
    help="Benchmarks; the last line printed is one JSON object of figures.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def ingest(
    events: Annotated[int, typer.Option(help="Events in the throughput runs.")] = 60_000,
    devices: Annotated[int, typer.Option(help="Simulated devices (one publisher each).")] = 10,
    gateways: Annotated[int, typer.Option(help="Gateway processes sharing the subscription.")] = 1,
    latency_rate: Annotated[float, typer.Option(help="Events/s of the latency run.")] = 1000.0,
    latency_s: Annotated[float, typer.Option(help="Length of the latency run, s.")] = 10.0,
) -> None:
    """Gateway throughput against a bare paho subscriber, and latency device -> stored."""
    from facility_cli.bench_ingest import run

    figures = run(
        events=events,
        devices=devices,
        gateways=gateways,
        latency_rate=latency_rate,
        latency_s=latency_s,
    )
    typer.echo(json.dumps(figures))


@app.command()
def edge(
    outage_s: Annotated[
        float, typer.Option(help="Length of the simulated broker outage, s.")
    ] = 600.0,
    rate: Annotated[
        float, typer.Option(help="Events/s the board produces during the outage.")
    ] = 20.0,
) -> None:
    """Edge agent memory, CPU per 1,000 events, and outbox drain rate after an outage."""
    from facility_cli.bench_edge import run

    typer.echo(json.dumps(run(outage_s=outage_s, rate=rate)))


@app.command()
def qr(
    frames: Annotated[int, typer.Option(help="Frames per condition.")] = 40,
) -> None:
    """QR decode time per 640x480 frame on one core, and the decode rate per condition."""
    from facility_edge.camera.bench import run

    typer.echo(json.dumps(run(per_condition=frames)))


@app.command()
def api(
    db_url: Annotated[
        str | None, typer.Option(help="Database URL (default: a temporary SQLite file).")
    ] = None,
) -> None:
    """p95 latency of a complex's "today" view and a district's device-health list."""
    import tempfile

    from facility_server.bench_api import run

    url = db_url or f"sqlite:///{tempfile.mkdtemp(prefix='fo-bench-api-')}/bench.sqlite"
    typer.echo(json.dumps(run(url)))


@app.command()
def report(
    db_url: Annotated[
        str | None, typer.Option(help="Database URL (default: a temporary SQLite file).")
    ] = None,
    complexes: Annotated[int, typer.Option(help="Complexes in the district.")] = 300,
) -> None:
    """Half-year report time for one complex and for a district with a half year of hourly data."""
    import tempfile

    from facility_server.bench_report import run

    url = db_url or f"sqlite:///{tempfile.mkdtemp(prefix='fo-bench-report-')}/bench.sqlite"
    typer.echo(json.dumps(run(url, complexes=complexes)))


@app.command()
def compliance(
    db_url: Annotated[
        str | None, typer.Option(help="Database URL (default: a temporary SQLite file).")
    ] = None,
    repeats: Annotated[int, typer.Option(help="Runs of the ticks; each figure is the best.")] = 3,
) -> None:
    """One compliance tick over 3,000 complexes x 10 rules with a day of check-ins.

    ``tick_s`` (target <= 2 s) is the slowest of: ``tick_first_s``, a new process's first
    tick with nothing stored for the day (every occurrence written, every miss alerted);
    ``tick_restart_s``, a new process's first tick with the day stored; ``tick_warm_s``,
    a running process's next tick. ``floor_s`` is a fixed pure-Python loop timed in the
    same run and ``tick_floor_ratio`` the first tick over it (compare those across
    machines and loads); ``checkins_per_s`` is the re-evaluation rate on arrival.
    """
    import tempfile

    from facility_server.bench_compliance import run

    url = db_url or f"sqlite:///{tempfile.mkdtemp(prefix='fo-bench-compliance-')}/bench.sqlite"
    typer.echo(json.dumps(run(url, repeats=repeats)))
