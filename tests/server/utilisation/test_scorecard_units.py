"""Review of issue 6: the scorecard is judged as of now (clamped to the period), monthly and
weekly-unit quotas only from the first whole unit after the space's or rule's start, task
rates need enough decided evidence, and the report's opening sheet agrees with the card.

Example complex, period 2026H2, judged on Mon 2026-11-30 02:00 (Asia/Shanghai): ISO weeks
wholly inside the half year are W28 (Mon 6 July) .. W52 (Mon 21 December); W48 (23 .. 29
November) is the last ended one, W49 the current one. Elderly care opens every day; the
fitness maintenance rule of the example is weekly, once.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from facility_server.models import TaskRule
from facility_server.reports import build_report
from facility_server.scorecard import as_of, scorecard
from facility_server.scorecard.clauses import task_rate
from facility_server.scorecard.facts import ComplexFacts, SpaceFacts
from facility_server.utilisation.periods import parse_period
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from .helpers import SITE, add_checkins, example, local

SH = ZoneInfo("Asia/Shanghai")
NOW = local(2026, 11, 30, 2)
BEFORE = datetime(2026, 6, 1, tzinfo=UTC)  # registered before 2026H2


def test_as_of_is_now_clamped_to_the_period_end() -> None:
    """An instant inside the period is kept; one after it (or the clock, for a past
    period) becomes local midnight after the period's last day; naive is refused."""
    h2 = parse_period("2026H2")
    end = datetime(2027, 1, 1, tzinfo=SH)
    assert as_of(h2, SH, NOW) == NOW
    assert as_of(h2, SH, local(2027, 3, 1)) == end
    assert as_of(parse_period("2001H1"), SH, None) == datetime(2001, 7, 1, tzinfo=SH)
    far = as_of(parse_period("2099H2"), SH, None)
    assert abs(far - datetime.now(UTC)) < timedelta(minutes=5)
    try:
        as_of(h2, SH, datetime(2026, 11, 30))  # noqa: DTZ001
    except ValueError as exc:
        assert "2026-11-30T00:00:00" in str(exc)
    else:
        raise AssertionError("naive now accepted")


def _late_start(session: Session) -> None:
    """Elderly care registered Mon 10 August (Aug 1..9 were open: judged from September),
    lectures on 15 September and 20 October; the fitness maintenance rule created Wed 14
    October (Mon 12 was open: judged from W43), maintained once in W43..W47, not in W48."""
    _, spaces = example(session)
    for space in spaces.values():
        space.created_at = BEFORE
    spaces["elderly-care"].created_at = local(2026, 8, 10, 10).astimezone(UTC)
    for rule in session.scalars(select(TaskRule)):
        rule.created_at = BEFORE
        if rule.code == "fitness-maintenance":
            rule.created_at = local(2026, 10, 14, 10).astimezone(UTC)
    lectures = [(local(2026, 9, 15, 15), "activity"), (local(2026, 10, 20, 15), "activity")]
    add_checkins(session, spaces["elderly-care"], lectures)
    w43 = date(2026, 10, 19)
    upkeep = [(local(d.year, d.month, d.day, 7), "maintenance") for d in _mondays(w43, 5)]
    add_checkins(session, spaces["fitness"], upkeep, checkpoint="cp-fitness-equip")
    session.commit()


def _mondays(first: date, n: int) -> list[date]:
    return [first + timedelta(days=7 * k) for k in range(n)]


def _clauses(factory: sessionmaker[Session], period: str) -> dict[str, dict[str, Any]]:
    with factory() as session:
        card = scorecard(session, SITE, period, now=NOW)
    assert card["period"]["as_of"] == ("2026-11-30" if period == "2026H2" else "2026-07-01")
    return {c["clause"]: c for c in card["clauses"]}


def test_monthly_and_weekly_quotas_start_with_their_first_whole_unit(
    factory: sessionmaker[Session],
) -> None:
    """Lectures judge September and October only (1, 1: pass; November not ended);
    maintenance judges W43..W48 only (1 x 5, then 0: fail); both name where they start."""
    with factory() as session:
        _late_start(session)
    card = _clauses(factory, "2026H2")
    lectures, upkeep = card["elderly_lectures"], card["equipment_maintenance"]
    months = [(m["month"], m["value"]) for m in lectures["detail"]["months"]]
    assert months == [("2026-09", 1), ("2026-10", 1)]
    assert (lectures["value"], lectures["status"]) == (1, "pass")
    assert "elderly-care 2026-09" in lectures["note"]
    units = [(u["unit"], u["value"]) for u in upkeep["detail"]["units"]]
    assert units == [(f"2026-W{w}", 1) for w in range(43, 48)] + [("2026-W48", 0)]
    assert (upkeep["value"], upkeep["status"], upkeep["unit"]) == (0, "fail", "times/week")
    assert "fitness 2026-W43" in upkeep["note"]


def test_quotas_started_after_the_period_are_not_judged(
    factory: sessionmaker[Session],
) -> None:
    """For 2026H1 the late elderly care and the late maintenance rule have nothing to
    judge (n/a), like the weekly opening quotas."""
    with factory() as session:
        _late_start(session)
    card = _clauses(factory, "2026H1")
    for key in ("elderly_lectures", "equipment_maintenance"):
        assert (card[key]["value"], card[key]["status"]) == (None, "n/a")


def test_opening_sheet_agrees_with_the_scorecard(factory: sessionmaker[Session]) -> None:
    """Weeks not ended as of the report (W49 .. W52) are pending, weeks before the
    health station's start (registered Mon 10 August: W32) are "before start", and the
    last ended week W48 is judged (no data: not met), as the culture clause's weeks."""
    with factory() as session:
        _, spaces = example(session)
        for space in spaces.values():
            space.created_at = BEFORE
        spaces["health"].created_at = local(2026, 8, 10, 9).astimezone(UTC)
        session.commit()
        report = build_report(session, "complex", SITE, "2026H2", now=NOW)
    (table,) = [t for t in report.tables if t.title.startswith("Actual opening")]
    rows = {(r[1], r[3]): r[-1] for r in table.rows}
    for week in ("2026-W49", "2026-W50", "2026-W52"):
        assert rows[("culture", week)] == rows[("health", week)] == "pending"
    assert rows[("health", "2026-W32")] == "before start"
    assert rows[("health", "2026-W33")] == "not met"
    assert rows[("culture", "2026-W48")] == "not met"
    (card,) = report.cards
    culture = {c["clause"]: c for c in card["clauses"]}["culture_hours"]
    assert culture["detail"]["weeks"][-1]["week"] == "2026-W48"
    (events,) = [t for t in report.tables if t.title.startswith("Events")]
    assert {r[1]: r[3:] for r in events.rows} == {
        "elderly-care": [0, 0, 0],
        "aid": [0, 0, 0],
        "fitness": [0, 0, 0],
    }


def _rate(states: dict[str, int]) -> dict[str, Any]:
    space = SpaceFacts(1, "kids-play", "儿童", "kids_play", 20)
    space.tasks = {("daily", "disinfection"): Counter(states)}
    facts = ComplexFacts(1, SITE, "x", "", "", SH, parse_period("2026H1"), date(2026, 7, 1))
    facts.spaces.append(space)
    return task_rate(facts, "daily", "disinfection", "kids_disinfection", "儿童憩戏: 每日消毒")


def test_task_rate_needs_enough_decided_evidence() -> None:
    """1 on time and 179 unknown (a half year of terminal outage) is insufficient, not a
    pass; 9 on time and 1 unknown (90 % decided) passes; a missed occurrence fails even
    with little coverage (50 %); excused occurrences are not due."""
    thin = _rate({"on_time": 1, "unknown": 179, "excused": 20})
    assert (thin["value"], thin["status"], thin["passed"]) == (100.0, "insufficient", None)
    assert thin["note"].startswith("已判定 1/180 次 (覆盖率 1%)")
    assert (thin["detail"]["decided"], thin["detail"]["due"]) == (1, 180)
    enough = _rate({"on_time": 9, "unknown": 1})
    assert (enough["status"], enough["note"]) == ("pass", "已判定 9/10 次 (覆盖率 90%)")
    missed = _rate({"on_time": 1, "missed": 1, "unknown": 100})
    assert (missed["value"], missed["status"]) == (50.0, "fail")


def _cli(db_url: str, *extra: str) -> Any:
    from facility_server.reports.cli import app

    args = ["half-year", "--complex", SITE, "--db", db_url, *extra]
    return CliRunner().invoke(app, args)


def test_cli_names_the_bad_option_and_value(db_url: str, tmp_path: Path) -> None:
    """--out naming a file, an unknown or out-of-range --period and a bad --as-of exit 2
    with the option, the value and what is accepted; no traceback."""
    afile = tmp_path / "passwd"
    afile.write_text("keep", encoding="utf-8")
    cases = [
        (("--period", "2026H2", "--out", str(afile)), f"--out: '{afile}' is a file"),
        (("--period", "2026H3"), "--period: '2026H3' is not a period; use 2026H1, 2026H2"),
        (("--period", "1999H1"), "--period: '1999H1' is outside the years 2000..2099"),
        (("--period", "2026H2", "--as-of", "yesterday"), "--as-of 'yesterday': is not an instant"),
        (
            ("--period", "2026H2", "--as-of", "2026-11-30T02:00"),
            "--as-of '2026-11-30T02:00': has no UTC offset",
        ),
    ]
    for args, message in cases:
        result = _cli(db_url, *args)
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())
        assert message in text, result.output
        assert "Traceback" not in result.output
    assert afile.read_text(encoding="utf-8") == "keep"


def test_cli_judges_a_running_period_as_of_now(
    factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    """Without --as-of the Summary sheet's "as of" is the current time (not the period's
    end) for a period that has not ended: 2099H2."""
    from openpyxl import load_workbook

    with factory() as session:
        example(session)
        session.commit()
    result = _cli(db_url, "--period", "2099H2", "--format", "xlsx", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    (path,) = result.output.split()
    assert path.endswith("complex-xihu-beishan-shuguang-2099H2.xlsx")
    ws = load_workbook(path, read_only=True)["Summary"]
    (when,) = [row[1] for row in ws.iter_rows(values_only=True) if row[0] == "as of"]
    assert abs(datetime.fromisoformat(str(when)) - datetime.now(UTC)) < timedelta(minutes=5)


def test_street_file_name_is_the_same_by_code_or_path(
    factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    """--street beishan (code) and --street xihu/beishan (path) name the same file."""
    from facility_server.reports.cli import app

    with factory() as session:
        example(session)
        session.commit()
    for street in ("beishan", "xihu/beishan"):
        args = ["half-year", "--street", street, "--period", "2026H1", "--db", db_url]
        args += ["--format", "xlsx", "--no-refresh", "--out", str(tmp_path)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert result.output.split() == [str(tmp_path / "street-xihu_beishan-2026H1.xlsx")]


def test_api_judges_as_of_its_clock_and_names_bad_periods(client, world) -> None:  # type: ignore[no-untyped-def]
    """The API's clock is Tue 2026-06-02: 2026H1 is judged as of that day, 2025H2 as of
    its end (local 2026-01-01); 9999H2, 9999-12 (its end is past year 9999) and 1999H1
    are 422 naming the field and the value."""
    url = f"/api/v1/complexes/{world.complexes['a']}/scorecard"
    auth = world.auth("admin")
    for period, day in (("2026H1", "2026-06-02"), ("2025H2", "2026-01-01")):
        card = client.get(url, params={"period": period}, headers=auth).json()
        assert card["period"]["as_of"] == day
    for period in ("9999H2", "9999-12", "1999H1"):
        bad = client.get(url, params={"period": period}, headers=auth)
        assert bad.status_code == 422
        [err] = bad.json()["detail"]
        assert (err["loc"], err["field"], err["value"]) == (["query", "period"], "period", period)
        assert err["msg"].startswith(f"{period!r} is ")
