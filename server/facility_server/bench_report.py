"""Benchmark of the half-year report: one complex, and a district of 300 complexes.

:func:`run` migrates the database at ``db_url`` and fills 2026H1 for one district of
``complexes`` complexes with a half year of hourly data
(:mod:`facility_server.reports.benchdata`, not timed). Then it times
:func:`facility_server.reports.build_report` + :func:`facility_server.reports.render`
(XLSX and PDF) for one complex and for the district, after one warm-up report (imports,
font). Targets (issue 6): <= 2 s and <= 60 s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from facility_server.core.db import make_engine, session_factory
from facility_server.reports.benchdata import load


def _timed(db_url: str, kind: str, ident: str, period: Any, out: Path) -> float:
    from facility_server.reports import build_report, render

    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            start = time.perf_counter()
            report = build_report(session, kind, ident, period)  # type: ignore[arg-type]
            render(report, out / f"{kind}-{period.key}")
            session.commit()
            return time.perf_counter() - start
    finally:
        engine.dispose()


def run(
    db_url: str, *, complexes: int = 300, period: str = "2026H1", hourly: bool = True
) -> dict[str, Any]:
    """Fill the database, then time the complex and district reports (XLSX + PDF).

    Returns:
        ``{"complex_s", "district_s", "complexes", "spaces", "hour_rows", "day_rows", ...}``
        (seconds; row counts of what was loaded; ``load_s`` untimed setup).
    """
    from facility_server.reports.pdf import find_font

    find_font()  # fail early without a CJK font
    t0 = time.perf_counter()
    loaded = load(db_url, complexes=complexes, period=period, hourly=hourly)
    load_s = time.perf_counter() - t0
    world, p = loaded["world"], loaded["period"]
    with tempfile.TemporaryDirectory() as tmp:
        _timed(db_url, "complex", world["site"], p, Path(tmp) / "warm")  # imports, font cache
        complex_s = _timed(db_url, "complex", world["site"], p, Path(tmp))
        district_s = _timed(db_url, "district", world["district"], p, Path(tmp))
    return {
        "complex_s": round(complex_s, 3),
        "district_s": round(district_s, 3),
        "load_s": round(load_s, 1),
        **loaded["counts"],
    }


if (
    __name__ == "__main__"
):  # pragma: no cover - manual use: python -m facility_server.bench_report URL
    import json
    import sys

    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///bench-report.db")))
