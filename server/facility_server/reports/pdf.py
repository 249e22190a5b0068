"""The report as a PDF (fpdf2) with an embedded CJK font (the names are Chinese).

The font is the first that exists of ``FACILITY_REPORT_FONT`` (a .ttf/.ttc/.otf path)
and the Debian packages' files below (``apt-get install fonts-wqy-microhei``); fpdf2
embeds only the glyphs used. Sections: the scorecard(s), the roll-up (streets,
districts), then each table of :mod:`facility_server.reports.data`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fpdf import FPDF

from facility_server.reports.data import Report, Table

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
#: Column widths are shared out in proportion to these weights (default 1).
_WIDE = {"name": 3.0, "text": 3.5, "complex": 2.2, "space": 1.6, "clause": 1.8}


class ReportError(RuntimeError):
    """The report cannot be rendered (e.g. no CJK font installed)."""


def find_font() -> Path:
    """The CJK font file to embed.

    Raises:
        ReportError: none found (install ``fonts-wqy-microhei``).
    """
    env = os.environ.get("FACILITY_REPORT_FONT")
    for candidate in ([env] if env else []) + list(FONT_CANDIDATES):
        if Path(candidate).is_file():
            return Path(candidate)
    raise ReportError(
        "no CJK font found: apt-get install fonts-wqy-microhei, or set FACILITY_REPORT_FONT"
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` mm at the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _row(pdf: FPDF, widths: list[float], values: list[str], height: float, fill: bool) -> None:
    for w, v in zip(widths, values, strict=True):
        pdf.cell(w, height, _fit(pdf, v, w - 1.0), border=1, fill=fill)
    pdf.ln(height)


def _table(pdf: FPDF, table: Table, size: float) -> None:
    """A table as plain cells (fast: tens of thousands of rows for a district), its
    header repeated on every page; text too long for its column is cut."""
    pdf.set_font("cjk", size=11)
    pdf.cell(text=table.title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font("cjk", size=size)
    if not table.rows:
        pdf.cell(text="(none)", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        return
    weights = [_WIDE.get(c, 1.0) for c in table.columns]
    widths = [pdf.epw * w / sum(weights) for w in weights]
    height = size * 0.55
    header = [c.replace("_", " ") for c in table.columns]
    pdf.set_fill_color(225, 230, 240)
    _row(pdf, widths, header, height, True)
    for values in table.rows:
        if pdf.will_page_break(height):
            pdf.add_page()
            _row(pdf, widths, header, height, True)
        _row(pdf, widths, [_cell(v) for v in values], height, False)
    pdf.ln(4)


def _scorecards(report: Report) -> Table:
    cols = ["complex", "clause", "text", "value", "target", "unit", "status"]
    rows = [
        [
            card["complex"]["site"],
            c["clause"],
            c["text"],
            c["value"],
            c["target"],
            c["unit"],
            c["status"],
        ]
        for card in report.cards
        for c in card["clauses"]
    ]
    return Table("Scorecard (4+5+X clauses)", cols, rows)


def _rollup(report: Report) -> Table:
    cols = ["clause", "pass", "fail", "pending", "n/a", "info", "pass_rate_pct"]
    return Table("Roll-up over complexes", cols, [[r[c] for c in cols] for r in report.rollup])


def write_pdf(report: Report, path: Path) -> Path:
    """Render the report to ``path`` (A4 landscape); returns ``path``.

    Raises:
        ReportError: no CJK font available.
    """
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    font = find_font()
    if font.suffix.lower() == ".ttc":
        pdf.add_font("cjk", fname=str(font), collection_font_number=0)
    else:
        pdf.add_font("cjk", fname=str(font))
    pdf.set_title(report.title)
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.cell(text=report.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    scope = report.scope
    pdf.cell(
        text=f"{scope['kind']}: {scope['name']} ({scope['id']})  period {report.period.key} "
        f"({report.period.first} .. {report.period.end}, end exclusive)  "
        f"as of {report.generated_at.isoformat()}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    if scope["kind"] != "complex":
        _table(pdf, _rollup(report), 8)
    _table(pdf, _scorecards(report), 7)
    for table in report.tables:
        _table(pdf, table, 7)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
