"""The report as an XLSX workbook (openpyxl): "Summary", "Scorecard", "Roll-up" (per
clause, complexes by status; one complex for a complex's report), then one sheet per table
of :mod:`facility_server.reports.data`.
Numbers are stored as numbers (hours in h, rates in %), so the file can be filtered and
summed in a spreadsheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from facility_server.reports.data import Report, Table
from facility_server.scorecard import STATUSES

_SHEETS = {
    "Utilisation per space": "Utilisation",
    "Actual opening per week against the quotas": "Opening",
    "Disinfection and patrol compliance": "Compliance",
    "Events (check-ins)": "Events",
    "Satisfaction per service": "Satisfaction",
}
BOLD = Font(bold=True)


def _sheet(wb: Workbook, name: str, columns: list[str], rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(name)
    ws.append(columns)
    for cell in ws[1]:
        cell.font = BOLD
    for row in rows:
        ws.append(row)
    ws.freeze_panes = "A2"
    for i, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(col) + 2))


def scorecard_rows(report: Report) -> list[list[Any]]:
    """One row per (complex, clause): value, target, unit, status and how it is judged."""
    rows = []
    for card in report.cards:
        for c in card["clauses"]:
            rows.append(
                [
                    card["complex"]["site"],
                    card["complex"]["name"],
                    c["clause"],
                    c["service"],
                    c["text"],
                    c["value"],
                    c["target"],
                    c["unit"],
                    c["status"],
                    c["note"],
                ]
            )
    return rows


def write_xlsx(report: Report, path: Path) -> Path:
    """Write the workbook to ``path`` (parent folders created); returns ``path``."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Summary"
    ws.append([report.title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["scope", report.scope["kind"], report.scope["id"], report.scope["name"]])
    ws.append(
        [
            "period",
            report.period.key,
            report.period.first.isoformat(),
            report.period.end.isoformat(),
        ]
    )
    ws.append(["as of", report.generated_at.isoformat()])
    _sheet(
        wb,
        "Scorecard",
        [
            "complex",
            "name",
            "clause",
            "service",
            "text",
            "value",
            "target",
            "unit",
            "status",
            "note",
        ],
        scorecard_rows(report),
    )
    cols = ["clause", *STATUSES, "pass_rate_pct"]
    _sheet(wb, "Roll-up", cols, [[r[c] for c in cols] for r in report.rollup])
    for table in report.tables:
        _table(wb, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _table(wb: Workbook, table: Table) -> None:
    _sheet(wb, _SHEETS.get(table.title, table.title[:31]), table.columns, table.rows)
