"""``facility report half-year``: the half-year report of a complex, street or district.

Registered under the ``facility.cli`` entry-point group as ``report``::

    facility report half-year --complex xihu-beishan-shuguang --period 2026H1 --out reports/
    facility report half-year --street xihu/beishan --period 2026H1
    facility report half-year --district xihu --period 2026H1 --format xlsx

Writes ``<scope>-<period>.xlsx`` and ``.pdf`` into ``--out`` and prints their paths (and
the roll-up as JSON with ``--json``). Exit code 2 for bad input, 1 when rendering fails.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from facility_server.core.db import make_engine, session_factory, session_scope
from facility_server.core.migrate import upgrade
from facility_server.core.settings import get_settings

app = typer.Typer(help="Reports: the half-year check of the 4+5+X standard.", no_args_is_help=True)


@app.callback()
def _main() -> None:
    """Reports."""


def _scope(
    complex_: str | None, street: str | None, district: str | None
) -> tuple[Literal["complex", "street", "district"], str]:
    given = [
        (k, v) for k, v in (("complex", complex_), ("street", street), ("district", district)) if v
    ]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --complex, --street, --district")
    return given[0]  # type: ignore[return-value]


def file_stem(kind: str, ident: str, period: str) -> str:
    """``complex-xihu-beishan-shuguang-2026H1`` (slashes and odd characters as ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{kind}-{ident}-{period}")


@app.command("half-year")
def half_year(
    period: Annotated[str, typer.Option(help="Period: 2026H1, 2026H2 (or 2026-06, 2026).")],
    complex_: Annotated[str | None, typer.Option("--complex", help="A complex's site id.")] = None,
    street: Annotated[
        str | None, typer.Option(help="A street: path (xihu/beishan), code or id.")
    ] = None,
    district: Annotated[str | None, typer.Option(help="A district: path, code or id.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the files.")] = Path("."),
    fmt: Annotated[str, typer.Option("--format", help="xlsx, pdf or both.")] = "both",
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: settings).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Judge as of this ISO instant (default: the period's end).")
    ] = None,
    refresh: Annotated[
        bool, typer.Option(help="Recompute the utilisation aggregates of the period first.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Also print the roll-up as JSON.")
    ] = False,
) -> None:
    """Write the half-year report (XLSX and PDF) of one complex, street or district."""
    from facility_server.reports import render
    from facility_server.reports.data import build_report
    from facility_server.reports.pdf import ReportError
    from facility_server.utilisation.periods import PeriodError, parse_period

    kind, ident = _scope(complex_, street, district)
    if fmt not in ("xlsx", "pdf", "both"):
        raise typer.BadParameter("--format must be xlsx, pdf or both")
    try:
        p = parse_period(period)
        now = None if as_of is None else datetime.fromisoformat(as_of)
        if now is not None and now.tzinfo is None:
            raise ValueError("--as-of needs a UTC offset, e.g. 2026-07-01T00:00+08:00")
    except (PeriodError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    url = db or get_settings().database_url
    upgrade(url)
    try:
        with session_scope(session_factory(make_engine(url))) as session:
            if refresh:
                _refresh(session, kind, ident, p)
            report = build_report(session, kind, ident, p, now=now)
            paths = render(report, out / file_stem(kind, ident, p.key), fmt)  # type: ignore[arg-type]
    except LookupError as exc:
        typer.echo(f"facility report: {exc}", err=True)
        raise typer.Exit(2) from exc
    except ReportError as exc:
        typer.echo(f"facility report: {exc}", err=True)
        raise typer.Exit(1) from exc
    for path in paths:
        typer.echo(str(path))
    if as_json:
        typer.echo(
            json.dumps(
                {"scope": report.scope, "period": p.key, "rollup": report.rollup},
                ensure_ascii=False,
            )
        )


def _refresh(session, kind: str, ident: str, period) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, timedelta

    from facility_server.reports.data import _complexes
    from facility_server.utilisation.refresh import refresh_days

    _, ids = _complexes(session, kind, ident)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    refresh_days(session, now, period.first, period.end - timedelta(days=1), complex_ids=ids)
