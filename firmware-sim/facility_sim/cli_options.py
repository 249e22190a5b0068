"""What the ``facility sim`` commands share: option types and their start-up helpers.

Each alias is one option that means the same in every command that takes it (typer
copies an alias's ``OptionInfo`` for each parameter, so one alias serves many commands);
the command still gives the default. Options whose meaning differs per command (what a
seed drives, what an expect file holds) keep their own help in the command.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

#: ``--log-level``: the logging level name (DEBUG, INFO, WARNING, ERROR), to stderr.
LogLevel = Annotated[str, typer.Option(help="Logging level (DEBUG, INFO, WARNING, ERROR).")]
#: ``--site-tz``: an IANA zone name, checked by :func:`zone`.
SiteTz = Annotated[
    str, typer.Option(help="The complex's time zone (IANA name): local times are in it.")
]
#: ``--link``: the symlink a pty simulator creates (required).
PtyLink = Annotated[
    Path, typer.Option(help="Symlink to create for the pty (the edge's config names it).")
]
#: ``--mqtt``: the broker a networked simulator publishes to.
MqttUrl = Annotated[
    str, typer.Option("--mqtt", help="Broker, mqtt://host:port or mqtt://user:password@host:port.")
]
#: ``--unplug-for``: how long a simulated unplug of a serial port lasts, real s.
UnplugFor = Annotated[float, typer.Option(help="An unplug lasts this many real s.")]
#: ``--noise``: probability of noise bytes before a serial frame (0..1).
Noise = Annotated[float, typer.Option(help="Probability of noise bytes before a frame.")]


def zone(name: str) -> ZoneInfo:
    """The zone ``name`` (``--site-tz``).

    Raises:
        typer.BadParameter: not a known IANA zone, naming the option and the value.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise typer.BadParameter(f"--site-tz {name!r}: not a known time zone") from exc


def setup_logging(level: str, fmt: str | None = None) -> None:
    """Log at ``level`` (``--log-level``) to stderr: stdout is the command's own output."""
    extra = {} if fmt is None else {"format": fmt}
    logging.basicConfig(level=level.upper(), stream=sys.stderr, **extra)
