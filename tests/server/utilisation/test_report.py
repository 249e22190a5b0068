"""The half-year report: its numbers equal values computed here from the fixture data, and
the files open (XLSX read back with openpyxl, PDF text extracted with pypdf).

Fixture (example complex, week 2026-W23): door events in culture and elderly-meal; the
culture opening of test_opening_week (10.25 h on 2 days); kids-play disinfection on time
Tue, Wed, Sat, Sun, late Thu (09:20, opening 09:00), none Fri, Monday closed; no patrol
check-ins (9 rounds a day, Tue-Sun: 54 missed, Monday excused); activities: 1 lecture in
elderly-care, 2 job events in aid; 1 maintenance in fitness; votes: health 6/2/3/1
(8 of 12 = 66.7% -> rectification), culture 9/0/1/0 (90%), kids-play 0/1/2/0 (too few).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from facility_server.compliance.tick import compliance_tick
from facility_server.models import Device, TaskRule
from facility_server.reports import build_report, render
from facility_server.reports.cli import file_stem
from facility_server.utilisation.refresh import refresh_days
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .helpers import SITE, add_checkins, add_crossings, add_votes, example, local

CULTURE_IN = [
    (local(2026, 6, 2, 10, 0), 3, 0),
    (local(2026, 6, 2, 11, 0), 2, 4),
    (local(2026, 6, 3, 10, 15), 2, 1),
    (local(2026, 6, 3, 11, 0), 0, 1),
]
MEAL_IN = [
    (local(2026, 6, 1, 11, 0), 12, 0),
    (local(2026, 6, 1, 12, 30), 0, 12),
    (local(2026, 6, 2, 11, 5), 9, 9),
]
VOTES = {
    "health": {"very_satisfied": 6, "satisfied": 2, "dissatisfied": 3, "very_dissatisfied": 1},
    "culture": {"very_satisfied": 9, "dissatisfied": 1},
    "kids-play": {"satisfied": 1, "dissatisfied": 2},
}


REGISTERED = datetime(2025, 12, 1, tzinfo=UTC)  # before 2026H1: every unit is judged


def _fill(session: Session) -> None:
    _, spaces = example(session)
    for space in spaces.values():
        space.created_at = REGISTERED
    for rule in session.scalars(select(TaskRule)):
        rule.created_at = REGISTERED
    add_crossings(session, spaces["culture"], CULTURE_IN)
    add_crossings(session, spaces["elderly-meal"], MEAL_IN)
    add_checkins(
        session,
        spaces["culture"],
        [
            (local(2026, 6, 2, 8, 55), "opening"),
            (local(2026, 6, 2, 12, 5), "closing"),
            (local(2026, 6, 2, 13, 25), "opening"),
            (local(2026, 6, 2, 17, 30), "closing"),
        ],
    )
    add_checkins(
        session,
        spaces["kids-play"],
        [
            (local(2026, 6, d, h, m), "disinfection")
            for d, h, m in ((2, 8, 30), (3, 8, 40), (4, 9, 20), (6, 7, 0), (7, 8, 59))
        ],
    )
    add_checkins(session, spaces["elderly-care"], [(local(2026, 6, 10, 15, 0), "activity")])
    add_checkins(
        session,
        spaces["aid"],
        [(local(2026, 3, 5, 10, 0), "activity"), (local(2026, 6, 4, 10, 0), "activity")],
    )
    add_checkins(
        session,
        spaces["fitness"],
        [(local(2026, 6, 2, 7, 0), "maintenance")],
        checkpoint="cp-fitness-equip",
    )
    for code, counts in VOTES.items():
        add_votes(session, spaces[code], local(2026, 6, 5, 12, 0), counts)
    terminal = session.scalars(select(Device).where(Device.code == "ci-kids-play")).one()
    terminal.health, terminal.health_since = "online", datetime(2026, 5, 1, tzinfo=UTC)
    terminal.last_seen = datetime(2026, 6, 30, tzinfo=UTC)
    session.flush()
    for d in range(1, 8):
        compliance_tick(session, local(2026, 6, d, 23, 59))
    refresh_days(session, local(2026, 7, 1), date(2026, 6, 1), date(2026, 6, 7))
    session.commit()


@pytest.fixture
def files(factory: sessionmaker[Session], tmp_path: Path) -> tuple[Path, Path]:
    """The complex's 2026H1 report written as XLSX and PDF."""
    with factory() as session:
        _fill(session)
        report = build_report(session, "complex", SITE, "2026H1")
        paths = render(report, tmp_path / file_stem("complex", SITE, "2026H1"))
        session.commit()
    return paths[0], paths[1]


def _rows(path: Path, sheet: str) -> list[dict[str, object]]:
    ws = load_workbook(path, read_only=True)[sheet]
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def _one(rows: list[dict[str, object]], **match: object) -> dict[str, object]:
    (found,) = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return found


def test_xlsx_numbers_equal_the_fixture(files: tuple[Path, Path]) -> None:
    """Utilisation, opening, compliance, events and satisfaction sheets hold the fixture's
    numbers computed independently here."""
    xlsx, _ = files
    util = _rows(xlsx, "Utilisation")
    assert _one(util, space="culture")["visits"] == sum(n for _, n, _ in CULTURE_IN)
    assert _one(util, space="elderly-meal")["visits"] == sum(n for _, n, _ in MEAL_IN)
    week = _one(_rows(xlsx, "Opening"), space="culture", week="2026-W23")
    assert (week["actual_open_h"], week["open_days"], week["status"]) == (10.25, 2, "not met")
    comp = _rows(xlsx, "Compliance")
    dis = _one(comp, space="kids-play", task="disinfection")
    assert [dis[k] for k in ("on_time", "late", "missed", "excused")] == [4, 1, 1, 1]
    assert dis["on_time_pct"] == round(100 * 4 / 6, 1)
    pat = _one(comp, space="kids-play", task="patrol")
    assert (pat["missed"], pat["excused"], pat["on_time"]) == (9 * 6, 1, 0)
    events = _rows(xlsx, "Events")
    assert _one(events, space="elderly-care")["activities_period"] == 1
    assert _one(events, space="aid")["activities_period"] == 2
    sat = _rows(xlsx, "Satisfaction")
    health = _one(sat, space="health")
    assert (health["votes"], health["rate_pct"], health["under_80"]) == (12, 66.7, "yes")
    assert health["rectification"] == "open"
    assert _one(sat, space="culture")["rate_pct"] == 90.0
    assert _one(sat, space="kids-play")["rectification"] == "< 10 votes"


def test_xlsx_scorecard_judges_each_clause(files: tuple[Path, Path]) -> None:
    """The scorecard sheet: job events pass (2 >= 2), lectures fail (months without one),
    disinfection fails (4 of 6 on time), satisfaction fails (66.7% < 80%)."""
    xlsx, _ = files
    card = {r["clause"]: r for r in _rows(xlsx, "Scorecard")}
    assert (card["job_events"]["value"], card["job_events"]["status"]) == (2, "pass")
    assert card["elderly_lectures"]["status"] == "fail"
    assert card["kids_disinfection"]["value"] == round(100 * 4 / 6, 2)
    assert card["satisfaction"]["value"] == round(100 * 8 / 12, 2)
    assert card["satisfaction"]["status"] == "fail"
    assert card["utilisation"]["status"] == "info"


def test_pdf_text_holds_names_and_numbers(files: tuple[Path, Path]) -> None:
    """The PDF opens; its text has the complex's Chinese name, the clauses and the figures."""
    _, pdf = files
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "曙光社区民生服务综合体" in text
    for needle in ("kids_disinfection", "culture_hours", "66.7", "10.25", "2026-W23"):
        assert needle in text


def test_cli_writes_both_files_for_a_street(
    factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    """``facility report half-year --street`` writes the XLSX and PDF and prints the
    roll-up; a bad period is refused with exit code 2."""
    from facility_server.reports.cli import app
    from typer.testing import CliRunner

    with factory() as session:
        _fill(session)
    runner = CliRunner()
    args = [
        "half-year",
        "--street",
        "xihu/beishan",
        "--period",
        "2026H1",
        "--db",
        db_url,
        "--out",
        str(tmp_path),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].endswith("street-xihu_beishan-2026H1.xlsx") and lines[1].endswith(".pdf")
    assert all(Path(p).stat().st_size > 0 for p in lines[:2])
    rollup = {r["clause"]: r for r in json.loads(lines[2])["rollup"]}
    assert rollup["job_events"]["pass"] == 1 and rollup["satisfaction"]["fail"] == 1
    bad = runner.invoke(app, ["half-year", "--complex", SITE, "--period", "2026H3", "--db", db_url])
    assert bad.exit_code == 2


def test_report_has_rollup_notes_and_zero_rows(files: tuple[Path, Path]) -> None:
    """A complex's XLSX has a Roll-up sheet (disinfection: 1 complex failing); spaces
    without votes are listed with 0 votes; the PDF carries the scorecard notes (4 + 1 + 1
    disinfections decided of 6 due) and whole column headers."""
    xlsx, pdf = files
    rollup = _one(_rows(xlsx, "Roll-up"), clause="kids_disinfection")
    assert (rollup["fail"], rollup["pass"], rollup["pass_rate_pct"]) == (1, 0, 0.0)
    meal = _one(_rows(xlsx, "Satisfaction"), space="elderly-meal")
    assert (meal["votes"], meal["rate_pct"], meal["under_80"]) == (0, None, "no")
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Scorecard notes" in text
    assert "已判定 6/6 次" in text
    assert "actual open h" in text and "ope…" not in text
