"""The report as a PDF (fpdf2) with an embedded CJK font (the names are Chinese).

The font is the first that exists of ``FACILITY_REPORT_FONT`` (a .ttf/.ttc/.otf path)
and the Debian packages' files below (``apt-get install fonts-wqy-microhei``); fpdf2
embeds only the glyphs used. Sections: the roll-up, the scorecard(s) with their notes,
then each table of :mod:`facility_server.reports.data` (the XLSX's content).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fpdf import FPDF

from facility_server.reports.data import Report, Table
from facility_server.scorecard import STATUSES

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


def _header(pdf: FPDF, widths: list[float], names: list[str], height: float, size: float) -> None:
    """Column headers, each in a font small enough to fit whole (down to 4 pt)."""
    pdf.set_fill_color(225, 230, 240)
    for w, name in zip(widths, names, strict=True):
        pdf.set_font("cjk", size=size)
        text_w = pdf.get_string_width(name)
        if text_w > w - 1.0:
            pdf.set_font("cjk", size=max(4.0, size * (w - 1.0) / text_w))
        pdf.cell(w, height, _fit(pdf, name, w - 1.0), border=1, fill=True)
    pdf.set_font("cjk", size=size)
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
    _header(pdf, widths, header, height, size)
    for values in table.rows:
        if pdf.will_page_break(height):
            pdf.add_page()
            _header(pdf, widths, header, height, size)
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
    cols = ["clause", *STATUSES, "pass_rate_pct"]
    return Table("Roll-up over complexes", cols, [[r[c] for c in cols] for r in report.rollup])


def _notes(pdf: FPDF, report: Report) -> None:
    """How each clause was judged (the XLSX's note column), one wrapped line per note."""
    pdf.set_font("cjk", size=11)
    pdf.cell(text="Scorecard notes", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=8)
    for card in report.cards:
        for c in card["clauses"]:
            if c["note"]:
                line = f"{card['complex']['site']} {c['clause']}: {c['note']}"
                pdf.multi_cell(0, 4.2, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


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
    _table(pdf, _rollup(report), 8)
    _table(pdf, _scorecards(report), 7)
    _notes(pdf, report)
    for table in report.tables:
        _table(pdf, table, 7)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
