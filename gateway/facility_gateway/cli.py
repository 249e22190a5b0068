"""``facility gateway``: run the gateway, or show its counters.

``facility gateway run [--config FILE]`` runs until SIGTERM or Ctrl-C, then finishes the
batch in hand (written, marked stored, confirmed) and exits 0.
``facility gateway stats FILE`` prints the counters a running gateway writes to its
stats file; ``facility gateway example-config`` prints the commented example settings.
Invalid settings or an unreadable stats file print one line per problem (file, field,
value; never a secret) and exit 2.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

logger = logging.getLogger(__name__)

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


def stop_on_signal(stop: threading.Event) -> Callable[[int, Any], None]:
    """A signal handler that sets ``stop``, logging the first signal at INFO.

    One Ctrl-C may arrive twice (from the terminal, and from a wrapper such as
    ``uv run`` that forwards it); repeats are logged at DEBUG only.
    """

    def handler(signum: int, _frame: Any) -> None:
        level = logging.DEBUG if stop.is_set() else logging.INFO
        logger.log(level, "signal %d: finishing the current batch", signum)
        stop.set()

    return handler


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
    from facility_gateway.errors import SettingsError
    from facility_gateway.runtime import tune_gc
    from facility_gateway.settings import load_settings

    try:
        settings = load_settings(config)
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    setup_logging(settings.log_level)
    gateway = make_gateway(settings)
    stop = threading.Event()
    handler = stop_on_signal(stop)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    gateway.start()
    tune_gc()
    while not stop.is_set() and not gateway.wait_done(0.5):
        pass
    if gateway.failed is not None:
        gateway.stop(5.0)
        raise typer.Exit(gateway.failed)
    gateway.stop()


def read_stats(path: Path) -> dict[str, Any]:
    """Read a stats file: a JSON object whose ``rejected`` maps reasons to counts.

    Raises:
        ValueError: unreadable, not UTF-8 JSON, or not shaped like a stats file (says how).
    """
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"not a stats file: not UTF-8 text (byte offset {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not a stats file: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(data, dict):
        raise ValueError(f"not a stats file: expected a JSON object, got {_json_kind(data)}")
    rejected = data.get("rejected") or {}
    if not isinstance(rejected, dict):
        raise ValueError(f"rejected: expected an object of counts, got {_json_kind(rejected)}")
    for reason, count in rejected.items():
        if isinstance(count, bool) or not isinstance(count, int | float):
            raise ValueError(f"rejected.{reason}: expected a number, got {_json_kind(count)}")
    return data


def _json_kind(value: Any) -> str:
    """A JSON value's kind for messages: ``a list``, ``a string``, ``null``."""
    if value is None:
        return "null"
    kinds = {bool: "a boolean", dict: "an object", list: "a list", str: "a string"}
    return kinds.get(type(value), "a number")


@app.command()
def stats(
    file: Annotated[
        Path, typer.Argument(help="The gateway's stats file (JSON).", exists=True, dir_okay=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
) -> None:
    """Print the counters from a gateway's stats file."""
    try:
        data = read_stats(file)
    except ValueError as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(2) from exc
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
