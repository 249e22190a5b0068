"""``facility edge``: print the config schema, check a config, run the agent; make a
pseudonym key and compute members' pseudonyms (health kiosks, enrolment desk).

Registered under the ``facility.cli`` entry-point group. Heavy modules (pydantic
models, paho, pyserial, sqlite3) are imported inside the commands, so ``facility
--help`` stays cheap. Exit codes: 0 ok, 2 invalid configuration, 1 other failure.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from facility_edge.config import EdgeConfig

app = typer.Typer(
    name="edge",
    help="Edge agent: read devices, keep events in a durable outbox, publish over MQTT.",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML configuration file.")]


def _load(path: Path, *, key_files: bool = False) -> EdgeConfig:
    from facility_edge.config import load_config
    from facility_edge.errors import ConfigError
    from facility_edge.pseudonym import check_key_files

    try:
        cfg = load_config(path)
        if key_files:
            check_key_files(cfg)
        return cfg
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


@app.command()
def schema() -> None:
    """Print the JSON schema of the configuration file."""
    from facility_edge.config import json_schema

    typer.echo(json_schema())


@app.command()
def check(config: ConfigOption) -> None:
    """Validate a configuration file and its kiosks' key files; print a summary (secrets
    never shown)."""
    from facility_edge.run import describe

    typer.echo(describe(config, _load(config, key_files=True)))


@app.command()
def run(
    config: ConfigOption,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    flush_s: Annotated[
        float,
        typer.Option(
            help="On stop, send pending events for up to this many seconds "
            "(the rest wait in the outbox for the next start)."
        ),
    ] = 3.0,
) -> None:
    """Run the agent until SIGTERM or Ctrl-C."""
    # Replaces this process (same PID) with `python -OO -m facility_edge run`, which
    # carries neither Typer/Click nor docstrings, to keep the agent's memory small.
    # (A comment, not the docstring: Typer shows the docstring as user-facing help.)
    _load(config)  # report configuration errors here, with exit code 2
    args = [
        sys.executable,
        "-OO",
        "-m",
        "facility_edge",
        "run",
        "--config",
        str(config.resolve()),
        "--log-level",
        log_level,
        "--flush-s",
        str(flush_s),
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)  # noqa: S606 - our own interpreter and module


KeyFileOption = Annotated[
    Path, typer.Option("--key-file", "-k", help="The complex's pseudonym key file.")
]


@app.command("new-key")
def new_key(
    out: Annotated[Path, typer.Option("--out", "-o", help="Key file to create (mode 0600).")],
) -> None:
    """Create the complex's pseudonym key file: 32 random bytes as hex, mode 0600.

    Never overwrites a file. Keep one key per complex, on the edge board and the
    enrolment desk only; back it up offline (a lost key changes every pseudonym).
    """
    from facility_edge.pseudonym import make_key_file

    raise typer.Exit(make_key_file(out, sys.stdout, sys.stderr))


@app.command()
def pseudonym(
    key_file: KeyFileOption,
    cards: Annotated[
        list[str] | None,
        typer.Argument(help="Card numbers; none: read one per line from stdin."),
    ] = None,
) -> None:
    """Print the member pseudonym (m1-...) of each card number: one line per input line.

    Card numbers are read as kiosks read them (spaces and dashes ignored, letters
    upper-cased). Give them on stdin rather than as arguments to keep them out of the
    shell history: `facility edge pseudonym -k /etc/facility-edge/pseudonym.key < cards.txt`.
    Output line N belongs to input line N: the pseudonym, an empty line for a blank line,
    or `error: <problem> (line N)` for a bad card number (never shown). Exit code 2: an
    unusable key file (nothing printed), or, after the last line, any bad card number.
    """
    from facility_edge.pseudonym import print_pseudonyms

    given = cards if cards else sys.stdin.read().splitlines()
    raise typer.Exit(print_pseudonyms(key_file, given, sys.stdout, sys.stderr))
