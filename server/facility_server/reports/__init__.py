"""The half-year report (issue 6): :func:`build_report` gathers the content once,
:func:`render` writes it as XLSX (openpyxl) and/or PDF (fpdf2, CJK font embedded).
CLI: ``facility report half-year`` (:mod:`facility_server.reports.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from facility_server.reports.data import Report, build_report

__all__ = ["Report", "build_report", "render"]


def render(report: Report, stem: Path, fmt: Literal["xlsx", "pdf", "both"] = "both") -> list[Path]:
    """Write ``stem.xlsx`` and/or ``stem.pdf``; returns the paths written.

    Raises:
        facility_server.reports.pdf.ReportError: the PDF cannot be rendered (no CJK font).
    """
    from facility_server.reports.pdf import write_pdf
    from facility_server.reports.xlsx import write_xlsx

    out = []
    if fmt in ("xlsx", "both"):
        out.append(write_xlsx(report, stem.with_suffix(".xlsx")))
    if fmt in ("pdf", "both"):
        out.append(write_pdf(report, stem.with_suffix(".pdf")))
    return out
