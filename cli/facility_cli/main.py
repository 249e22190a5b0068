"""The ``facility`` command: one entry point, a subcommand per installed part.

Each part registers its Typer app under the entry-point group ``facility.cli``
(``edge``, ``gateway``, ``server``, ``sim``, ``demo``, ``bench`` ...). A board that
installs only ``facility-edge`` therefore gets ``facility edge`` and nothing that
would pull in FastAPI or database drivers. Sub-apps are imported only when their
subcommand runs, so ``facility edge run`` does not pay for the server's imports.
"""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint, entry_points

import typer

GROUP = "facility.cli"


def _parts() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def _root(parts: dict[str, EntryPoint]) -> typer.Typer:
    app = typer.Typer(
        name="facility",
        help="facility-ops: IoT operations for community service complexes.",
        no_args_is_help=True,
        add_completion=False,
    )
    for name, ep in sorted(parts.items()):
        app.add_typer(ep.load(), name=name)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run the command line; loads only the part named by the first argument."""
    args = sys.argv[1:] if argv is None else argv
    parts = _parts()
    wanted = args[0] if args and not args[0].startswith("-") else None
    if wanted is not None and wanted not in parts:
        known = ", ".join(sorted(parts)) or "none"
        sys.stderr.write(f"facility: unknown or uninstalled part {wanted!r} (installed: {known})\n")
        raise SystemExit(2)
    selected = {wanted: parts[wanted]} if wanted else parts
    _root(selected)(args=args, prog_name="facility")


if __name__ == "__main__":
    main()
