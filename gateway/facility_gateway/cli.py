"""``facility gateway``: run the gateway, or show its counters.

``facility gateway run [--config FILE]`` runs until SIGTERM or Ctrl-C, then finishes the
batch in hand (written, marked stored, confirmed) and exits 0.
``facility gateway stats FILE`` prints the counters a running gateway writes to its
stats file; ``facility gateway example-config`` prints the commented example settings.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Gateway: MQTT events -> point store, dedupe, confirmations.",
    no_args_is_help=True,
    add_completion=False,
)


def setup_logging(level: str) -> None:
    """Log to stderr with UTC timestamps."""
    logging.Formatter.converter = time.gmtime
    logging.basicConfig(
        level=level, format="%(asctime)sZ %(levelname)s %(name)s %(threadName)s: %(message)s"
    )


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="YAML settings file (keys as printed by example-config); "
            "FACILITY_GATEWAY_* environment variables override it.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Run the gateway until SIGTERM or Ctrl-C."""
    from facility_gateway.app import make_gateway
    from facility_gateway.settings import load_settings

    settings = load_settings(config)
    setup_logging(settings.log_level)
    gateway = make_gateway(settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        logging.getLogger(__name__).info("signal %d: finishing the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    gateway.start()
    while not stop.is_set() and not gateway.wait_done(0.5):
        pass
    if gateway.failed is not None:
        gateway.stop(5.0)
        raise typer.Exit(gateway.failed)
    gateway.stop()


@app.command()
def stats(
    file: Annotated[
        Path, typer.Argument(help="The gateway's stats file (JSON).", exists=True, dir_okay=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
) -> None:
    """Print the counters from a gateway's stats file."""
    data = json.loads(file.read_text(encoding="utf-8"))
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    rejected = data.pop("rejected", {}) or {}
    width = max(len(k) for k in [*data, "rejected"])
    for key in sorted(data):
        typer.echo(f"{key:<{width}}  {data[key]}")
    total = sum(rejected.values())
    typer.echo(f"{'rejected':<{width}}  {total}")
    for reason, count in sorted(rejected.items()):
        typer.echo(f"  {reason:<{width - 2}}  {count}")


@app.command("example-config")
def example_config() -> None:
    """Print the commented example settings file (a starting point for --config)."""
    typer.echo(
        (Path(__file__).parent / "gateway.example.yaml").read_text(encoding="utf-8"), nl=False
    )
