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

from facility_server.cli_values import instant_option
from facility_server.core.db import make_engine, session_factory, session_scope
from facility_server.core.migrate import upgrade
from facility_server.core.settings import get_settings
from facility_server.utilisation.periods import (
    Period,
    PeriodError,
    parse_report_period,
)

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


def parse_period_option(text: str) -> Period:
    """``--period`` as a :class:`Period` of a year in 2000..2099.

    Raises:
        typer.BadParameter: naming the option, the value and the accepted forms.
    """
    try:
        return parse_report_period(text)
    except PeriodError as exc:
        raise typer.BadParameter(f"--period: {exc}") from exc


def parse_as_of_option(text: str | None) -> datetime | None:
    """``--as-of`` as a tz-aware instant in UTC (None when not given: judge as of now).

    Raises:
        typer.BadParameter: naming the option and the value (see :func:`instant_option`).
    """
    return None if text is None else instant_option(text, "--as-of")


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
        str | None,
        typer.Option(
            help="Judge as of this ISO instant with UTC offset (default: now; never after"
            " the period's end)."
        ),
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh/--no-refresh",
            help="Recompute the period's utilisation aggregates up to --as-of first (default;"
            " --no-refresh reads the stored ones: faster, but stale after a replay).",
        ),
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Also print the roll-up as JSON.")
    ] = False,
) -> None:
    """Write the half-year report (XLSX and PDF) of one complex, street or district."""
    from facility_server.reports import render
    from facility_server.reports.data import build_report
    from facility_server.reports.pdf import ReportError

    kind, ident = _scope(complex_, street, district)
    if fmt not in ("xlsx", "pdf", "both"):
        raise typer.BadParameter(f"--format: {fmt!r}; use xlsx, pdf or both")
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"--out: {str(out)!r} is a file; give a folder")
    p, now = parse_period_option(period), parse_as_of_option(as_of)
    url = db or get_settings().database_url
    upgrade(url)
    try:
        with session_scope(session_factory(make_engine(url))) as session:
            if refresh:
                _refresh(session, kind, ident, p, now)
            report = build_report(session, kind, ident, p, now=now)
            stem = out / file_stem(kind, str(report.scope["id"]), p.key)
            paths = render(report, stem, fmt)  # type: ignore[arg-type]
    except LookupError as exc:
        typer.echo(f"facility report: {exc}", err=True)
        raise typer.Exit(2) from exc
    except (ReportError, OSError) as exc:
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


def _refresh(session, kind: str, ident: str, period, at: datetime | None) -> None:  # type: ignore[no-untyped-def]
    """Recompute the period's day aggregates up to the local day of ``at`` (default now)."""
    from datetime import UTC, timedelta
    from zoneinfo import ZoneInfo

    from facility_server.reports.data import _complexes
    from facility_server.utilisation.refresh import refresh_days

    scope, ids = _complexes(session, kind, ident)  # type: ignore[arg-type]
    now = at or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(scope.get("timezone", "Asia/Shanghai"))).date()
    last = min(period.end - timedelta(days=1), today)
    if ids and last >= period.first:
        refresh_days(session, now, period.first, last, complex_ids=ids)
