"""The agent's process entry: ``python -m facility_edge run --config F``.

Kept free of Typer/Click: ``facility edge run`` execs ``python -OO -m facility_edge
run`` in the same process (same PID, so systemd and signals see no difference), so the
agent carries neither the command line's modules nor docstrings. Memory budget (VmRSS,
target 40 MB): see :func:`limit_malloc_arenas` and
:func:`facility_edge.status.trim_memory`. Exit codes: 0 clean stop, 2 a person must act
(invalid configuration, an unusable pseudonym key file, an outbox that cannot be written:
see :func:`run_agent`), 1 other failures (systemd restarts those).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facility_edge.config import EdgeConfig

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s %(message)s"


def setup_logging(level: str) -> None:
    """Log to stderr with UTC ISO-8601 timestamps."""
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, format=LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S"
    )
    logging.Formatter.converter = time.gmtime


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (``mallopt(M_ARENA_MAX)``) before threads start.

    Each thread that allocates may otherwise get its own arena, each holding freed
    memory; the agent's few threads allocate little. No-op where mallopt is missing.
    """
    import ctypes

    m_arena_max = -8
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(m_arena_max, arenas)


def stop_on_signal(stop: threading.Event) -> Callable[[int, object], None]:
    """A signal handler that sets ``stop``, logging the first signal at INFO.

    One Ctrl-C may arrive twice (from the terminal, and from a wrapper such as
    ``uv run`` that forwards it); repeats are logged at DEBUG only.
    """

    def handler(signum: int, frame: object) -> None:
        level = logging.DEBUG if stop.is_set() else logging.INFO
        logger.log(level, "signal %d: stopping", signum)
        stop.set()

    return handler


def load_checked(config: Path, *, writable: bool = True) -> EdgeConfig | None:
    """The configuration with its data folder and kiosks' key files checked; None after
    writing each problem to stderr (``FILE: field: problem (value ...)``, secrets never
    shown).

    Args:
        config: the YAML file.
        writable: also check that this process's user may create and write
            ``agent.data_dir`` (:func:`facility_edge.config.check_data_dir`). True for
            ``run``, which runs as the agent's user; ``check`` passes False, as it runs as
            root at install time (``install.sh``), who may write anywhere, or by hand as
            someone other than the agent's user (systemd's ``StateDirectory=`` makes the
            folder the agent's only when the unit starts).
    """
    from facility_edge.config import check_data_dir, load_config
    from facility_edge.errors import ConfigError
    from facility_edge.pseudonym import check_key_files

    try:
        cfg = load_config(config)  # checks what of agent.data_dir is the same for all users
        if writable:
            check_data_dir(cfg, str(config), writable=True)
        check_key_files(cfg)  # a kiosk's pseudonym key: refuse to start without it
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return None
    return cfg


def describe(config: Path, cfg: EdgeConfig) -> str:
    """One line saying what a valid configuration runs (secrets never shown)."""
    from facility_edge.errors import mask_userinfo

    where = {
        d.id: mask_userinfo(
            str(getattr(d, "port", None) or getattr(d, "source", None) or getattr(d, "broker", "?"))
        )
        for d in cfg.devices
    }
    kinds = ", ".join(f"{d.id} ({d.type} on {where[d.id]})" for d in cfg.devices) or "none"
    return (
        f"{config}: ok: agent {cfg.agent.id} at site {cfg.agent.site}, "
        f"broker {cfg.mqtt.host}:{cfg.mqtt.port} (MQTT {cfg.mqtt.protocol}), devices: {kinds}"
    )


def check_config(config: Path) -> int:
    """``check --config F``: 0 and a summary on stdout, or 2 and the problems on stderr.

    Whether this user may write ``agent.data_dir`` is checked unless it is root (who may
    write anywhere, and runs ``check`` at install time): run it as the agent's user
    (``sudo -u facility-edge ... check``) to check that too; ``run`` always does
    (:func:`load_checked`)."""
    import os

    as_root = os.geteuid() == 0
    cfg = load_checked(config, writable=not as_root)
    if cfg is None:
        return 2
    note = " (write permission on agent.data_dir not checked as root)" if as_root else ""
    sys.stdout.write(describe(config, cfg) + note + "\n")
    return 0


def run_agent(config: Path, log_level: str = "INFO", flush_s: float = 3.0) -> int:
    """Load the configuration and run the agent until SIGTERM/SIGINT; returns the exit code.

    Exit codes (the systemd unit restarts on 1, not on 2: ``RestartPreventExitStatus=2``):
    0 clean stop; 2 a person must act: invalid configuration or key file, or an outbox
    that cannot be used (:class:`~facility_edge.outbox.OutboxUnusable`: its folder or file
    not writable, a read-only file system, a folder open to other users); 1 any other
    failure (disk full, I/O error: restarting may help). A damaged outbox is no failure:
    it is rebuilt from what can be read and the damaged file kept aside
    (:mod:`facility_edge.outbox_recovery`). Outbox failures are one ERROR line, no
    traceback.
    """
    limit_malloc_arenas()
    setup_logging(log_level)
    cfg = load_checked(config)
    if cfg is None:
        return 2
    from facility_edge.agent import Agent
    from facility_edge.errors import OutboxError
    from facility_edge.outbox import OutboxUnusable

    stop = threading.Event()
    handler = stop_on_signal(stop)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    try:
        agent = Agent(cfg)
    except OutboxUnusable as exc:
        logger.error("%s; fix it, then start the agent again (exit 2, not restarted)", exc)
        return 2
    except OutboxError as exc:
        logger.error("%s (exit 1: restarted)", exc)
        return 1
    try:
        agent.run(stop, flush_s=flush_s)
    except Exception:
        logger.exception("agent failed")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``run --config F [--log-level L] [--flush-s S]`` and run; or what a board
    without the ``facility`` command needs: ``check --config F`` (exit 2: invalid),
    ``precompile`` (the bytecode the unit's ``-OO`` needs, run by ``install.sh``), and the
    health kiosk key commands ``new-key --out F`` and ``pseudonym --key-file F [CARD ...]``
    (cards from stdin when none is given)."""
    parser = argparse.ArgumentParser(
        prog="python -m facility_edge", description="Run the facility edge agent."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the agent until SIGTERM")
    run.add_argument("--config", "-c", type=Path, required=True, help="YAML configuration file")
    run.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    run.add_argument("--flush-s", type=float, default=3.0, help="seconds to flush on stop")
    check = sub.add_parser("check", help="validate the configuration and kiosk key files")
    check.add_argument("--config", "-c", type=Path, required=True, help="YAML configuration file")
    key = sub.add_parser("new-key", help="create the complex's pseudonym key file (0600)")
    key.add_argument("--out", "-o", type=Path, required=True, help="key file to create")
    pseudo = sub.add_parser("pseudonym", help="print the pseudonym of each card number")
    pseudo.add_argument("--key-file", "-k", type=Path, required=True, help="the key file")
    pseudo.add_argument("cards", nargs="*", help="card numbers; none: one per line on stdin")
    sub.add_parser("precompile", help="write the -OO bytecode of every module the agent loads")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_agent(args.config, args.log_level, args.flush_s)
    if args.command == "check":
        return check_config(args.config)
    if args.command == "precompile":
        from facility_edge.precompile import main_precompile

        return main_precompile(sys.stdout)
    from facility_edge.pseudonym import make_key_file, print_pseudonyms

    if args.command == "new-key":
        return make_key_file(args.out, sys.stdout, sys.stderr)
    cards = args.cards or sys.stdin.read().splitlines()
    return print_pseudonyms(args.key_file, cards, sys.stdout, sys.stderr)
