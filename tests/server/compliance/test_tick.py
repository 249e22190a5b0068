"""The compliance tick and on-arrival re-evaluation on the database (SQLite and
PostgreSQL): one alert at deadline + grace, nothing on closed days and holidays, late
data resolving an alert with a note, an offline terminal giving "unknown", not "missed"."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from facility_server.models import CheckIn, TaskRule
from facility_server.setup.importer import import_setup_text
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .conftest import CLEANER, KIDS_CPS, PATROLLER, SITE, Site, example_text, local, ms

DISINFECTION = f"{SITE}/kids-play/kids-disinfection"


def _ticks(site: Site, start: datetime, end: datetime, step_min: int = 10) -> None:
    at = start
    while at <= end:
        site.tick(at)
        at += timedelta(minutes=step_min)


def _task_alerts(site: Site, subject: str | None = None) -> list[tuple[str, str, str]]:
    return [
        (a.subject, a.occurrence, a.state)
        for a in site.alerts("task_missed")
        if subject is None or a.subject == subject
    ]


def test_day_without_disinfection_alerts_once_at_deadline_plus_grace(
    site: Site, process_tz: str
) -> None:
    """Server in any zone: one alert at 09:15:00 local (opening + grace), none before."""
    site.tick(local(2026, 6, 2, 5, 0))
    site.tick(local(2026, 6, 2, 9, 14, 59))
    assert _task_alerts(site, DISINFECTION) == []
    report = site.tick(local(2026, 6, 2, 9, 15, 0))
    assert f"task_missed:{DISINFECTION}:2026-06-02" in report.opened
    _ticks(site, local(2026, 6, 2, 9, 20), local(2026, 6, 2, 18, 0), step_min=20)
    assert _task_alerts(site, DISINFECTION) == [(DISINFECTION, "2026-06-02", "open")]
    alert = site.alerts("task_missed")[0]
    assert alert.detail["deadline"] == "2026-06-02 09:00"
    assert alert.detail["responsible"] == {"code": "s003", "name": "刘芳"}
    assert alert.escalate_after_s == 30 * 60


def test_disinfection_on_time_raises_nothing(site: Site) -> None:
    """Disinfected at 08:40 and every round walked: the day ends with no task alert."""
    site.tick(local(2026, 6, 2, 5, 0))
    site.checkin(local(2026, 6, 2, 8, 40), "cp-kids-gate", "disinfection")
    for hour in range(9, 18):
        site.patrol(local(2026, 6, 2, hour, 2))
    _ticks(site, local(2026, 6, 2, 9, 0), local(2026, 6, 2, 18, 30), step_min=30)
    assert _task_alerts(site) == []
    occ = site.occurrence("kids-disinfection", "2026-06-02")
    assert occ is not None and (occ.state, occ.done_count) == ("on_time", 1)


def test_checkins_at_midnight_go_to_their_days_through_ingest(
    factory: sessionmaker[Session], example_path: Path, process_tz: str
) -> None:
    """Through ingest, 23:59:59 Jan 31 and 00:00:00 Feb 1 count for their own local days."""
    rule = (
        "  - {code: kids-clean, space: kids-play, kind: daily, task: disinfection,"
        ' start: "00:00", deadline: "24:00", grace_min: 0}\n'
    )
    text = example_text(example_path).replace("\ncontacts: []", "\n" + rule + "contacts: []")
    with factory() as s:
        import_setup_text(s, text)
        s.commit()
    site = Site(factory)
    site.tick(local(2026, 1, 31, 0, 0))
    site.checkin(local(2026, 1, 31, 23, 59, 59), "cp-kids-gate", "disinfection")
    site.checkin(local(2026, 2, 1, 0, 0, 0), "cp-kids-gate", "disinfection")
    site.tick(local(2026, 2, 1, 0, 30))
    with factory() as s:
        ids = list(s.scalars(select(CheckIn.id).order_by(CheckIn.ts_ms)))
    jan, feb = (
        site.occurrence("kids-clean", "2026-01-31"),
        site.occurrence("kids-clean", "2026-02-01"),
    )
    assert jan is not None and (jan.state, jan.satisfied_by) == ("on_time", [ids[0]])
    assert feb is not None and (feb.state, feb.satisfied_by) == ("on_time", [ids[1]])


def test_closed_day_holiday_and_makeup_day(
    factory: sessionmaker[Session], example_path: Path
) -> None:
    """Holidays and closed Sundays raise nothing; the make-up Sunday 2025-09-28 is checked."""
    rule = (
        "  - {code: infant-disinfection, space: infant-care, kind: daily, task: disinfection,"
        ' start: "06:00", deadline: opening, grace_min: 15}\n'
    )
    text = example_text(example_path).replace("\ncontacts: []", "\n" + rule + "contacts: []")
    text = text.replace("makeup_workdays: regular", "makeup_workdays: mon")
    with factory() as s:
        import_setup_text(s, text)
        s.commit()
    site = Site(factory)
    subject = f"{SITE}/infant-care/infant-disinfection"
    for day in (1, 5, 12):  # Wed 1 Oct (holiday), Sun 5 Oct (holiday), Sun 12 Oct
        _ticks(site, local(2025, 10, day, 5), local(2025, 10, day, 23), step_min=90)
        occ = site.occurrence("infant-disinfection", f"2025-10-{day:02d}")
        assert occ is not None and occ.state == "excused"
    # the morning ticks also judged the day before: Tue 30 Sep (a workday) and the make-up
    # Saturday 11 Oct were missed; the holidays and the ordinary Sunday raised nothing
    assert {occ for _, occ, _ in _task_alerts(site, subject)} == {"2025-09-30", "2025-10-11"}
    _ticks(site, local(2025, 9, 28, 5), local(2025, 9, 28, 12), step_min=30)
    assert (subject, "2025-09-28", "open") in _task_alerts(site, subject)
    assert site.occurrence("infant-disinfection", "2025-10-01").reason == "public_holiday"  # type: ignore[union-attr]


def test_late_data_resolves_the_missed_alert_with_a_note(site: Site) -> None:
    """Done 08:55, delivered 11:00: on time, and the missed alert resolved saying why."""
    site.tick(local(2026, 6, 2, 5, 0))
    site.tick(local(2026, 6, 2, 9, 15))
    assert _task_alerts(site, DISINFECTION) == [(DISINFECTION, "2026-06-02", "open")]
    site.checkin(
        local(2026, 6, 2, 8, 55), "cp-kids-gate", "disinfection", delivered_at=local(2026, 6, 2, 11)
    )
    occ = site.occurrence("kids-disinfection", "2026-06-02")
    assert occ is not None and occ.state == "on_time" and occ.reported_ms > occ.alert_ms  # type: ignore[operator]
    alert = site.alerts("task_missed")[0]
    assert (alert.state, alert.resolution) == ("resolved", "late_data")
    assert "08:55" in (alert.note or "") and "11:00" in (alert.note or "")


def test_done_late_resolves_the_alert_as_late(site: Site) -> None:
    """Disinfected at 10:30, after the alert: the occurrence is late and the alert says so."""
    site.tick(local(2026, 6, 2, 5, 0))
    site.tick(local(2026, 6, 2, 9, 20))
    site.checkin(local(2026, 6, 2, 10, 30), "cp-kids-gate", "disinfection")
    alert = site.alerts("task_missed")[0]
    assert (alert.state, alert.resolution) == ("resolved", "done_late")
    assert site.occurrence("kids-disinfection", "2026-06-02").state == "late"  # type: ignore[union-attr]


def test_terminal_offline_all_morning_is_unknown_then_decided(site: Site) -> None:
    """Terminal offline all morning: one device alert, unknown tasks, on time once data came."""
    site.tick(local(2026, 6, 2, 6, 0))
    site.down = {"ci-kids-play"}
    _ticks(site, local(2026, 6, 2, 7, 0), local(2026, 6, 2, 11, 50))
    health = [(a.kind, a.subject, a.state) for a in site.alerts() if a.kind != "task_missed"]
    assert health == [("device_offline", f"{SITE}/ci-kids-play", "open")]
    assert _task_alerts(site) == []
    occ = site.occurrence("kids-disinfection", "2026-06-02")
    assert occ is not None and (occ.state, occ.reason) == (
        "unknown",
        "terminal ci-kids-play offline",
    )
    assert site.occurrence("kids-patrol", "2026-06-02T10:00").state == "unknown"  # type: ignore[union-attr]
    site.down = set()
    back = local(2026, 6, 2, 12, 0)
    site.heartbeat(back)
    site.checkin(local(2026, 6, 2, 8, 50), "cp-kids-gate", "disinfection", delivered_at=back)
    for hour in (9, 10, 11):
        for i, cp in enumerate(KIDS_CPS):
            site.checkin(
                local(2026, 6, 2, hour, 5 + i), cp, "patrol", badge=PATROLLER, delivered_at=back
            )
    site.patrol(local(2026, 6, 2, 12, 5))
    _ticks(site, back, local(2026, 6, 2, 12, 40))
    assert _task_alerts(site) == []
    assert site.occurrence("kids-disinfection", "2026-06-02").state == "on_time"  # type: ignore[union-attr]
    assert [a.state for a in site.alerts("device_offline")] == ["resolved"]


def test_terminal_back_without_backlog_then_missed(site: Site) -> None:
    """Back online with nothing in its outbox: unknown for the settle time, then missed."""
    site.tick(local(2026, 6, 2, 6, 0))
    site.down = {"ci-kids-play"}
    _ticks(site, local(2026, 6, 2, 7, 0), local(2026, 6, 2, 10, 0), step_min=30)
    site.down = set()
    site.tick(local(2026, 6, 2, 10, 1))
    assert _task_alerts(site, DISINFECTION) == []
    site.tick(local(2026, 6, 2, 10, 5))
    assert _task_alerts(site, DISINFECTION) == [(DISINFECTION, "2026-06-02", "open")]


def test_complex_outage_is_one_grouped_alert_and_no_task_alert(site: Site) -> None:
    """Every device silent all morning: one complex_offline alert, no task alerts."""
    site.tick(local(2026, 6, 2, 6, 0))
    site.down = {"edge-main", "ci-kids-play", "hk-elderly-care", "sat-elderly-meal", "sat-health",
                 "sat-culture", "sat-kids-play"}  # fmt: skip
    _ticks(site, local(2026, 6, 2, 7, 0), local(2026, 6, 2, 12, 0), step_min=30)
    kinds = [(a.kind, a.state) for a in site.alerts()]
    assert kinds == [("complex_offline", "open")]


def test_patrol_round_missing_a_checkpoint_alert_names_it(site: Site) -> None:
    """The 10:00 round skips the sandpit: at 10:30 one alert naming cp-kids-sandpit (沙池)."""
    site.tick(local(2026, 6, 2, 5, 0))
    site.checkin(local(2026, 6, 2, 8, 0), "cp-kids-gate", "disinfection")
    site.patrol(local(2026, 6, 2, 9, 1))
    site.patrol(local(2026, 6, 2, 10, 1), ["cp-kids-gate", "cp-kids-slide", "cp-kids-toys"])
    site.tick(local(2026, 6, 2, 10, 29))
    assert _task_alerts(site) == []
    site.tick(local(2026, 6, 2, 10, 30))
    [alert] = site.alerts("task_missed")
    assert alert.occurrence == "2026-06-02T10:00" and "cp-kids-sandpit" in alert.title
    assert alert.detail["missing"] == [{"code": "cp-kids-sandpit", "name": "沙池"}]


def test_checkin_with_an_implausible_device_time_is_kept_refused(
    site: Site, factory: sessionmaker[Session]
) -> None:
    """A synced check-in stamped an hour after it arrived (a device clock run ahead) is
    stored at its receive time, ``estimated``, refused with the contract's reason."""
    received = local(2026, 6, 2, 8, 0)
    assert site.checkin(
        received + timedelta(hours=1), "cp-kids-gate", "disinfection", delivered_at=received
    )
    with factory() as s:
        row = s.execute(
            select(CheckIn.accepted, CheckIn.reject_reason, CheckIn.clock, CheckIn.ts_ms)
        ).one()
    assert tuple(row) == (False, "ts_in_future", "estimated", int(received.timestamp() * 1000))


def test_rejected_and_duplicate_checkins(site: Site, factory: sessionmaker[Session]) -> None:
    """Unknown badge, checkpoint of another space: stored, not accepted; a repeat is dropped."""
    site.tick(local(2026, 6, 2, 5, 0))
    assert site.checkin(local(2026, 6, 2, 8, 0), "cp-kids-gate", "disinfection", badge="DEADBEEF")
    assert site.checkin(local(2026, 6, 2, 8, 1), "cp-fitness-equip", "disinfection", badge=CLEANER)
    with factory() as s:
        rows = s.execute(select(CheckIn.accepted, CheckIn.reject_reason).order_by(CheckIn.id)).all()
    assert [tuple(r) for r in rows] == [
        (False, "unknown_badge"),
        (False, "checkpoint_in_other_space"),
    ]
    site.tick(local(2026, 6, 2, 9, 15))
    assert _task_alerts(site, DISINFECTION) == [(DISINFECTION, "2026-06-02", "open")]


def test_rule_answers_only_for_windows_after_its_creation(
    site: Site, factory: sessionmaker[Session]
) -> None:
    """Rules created at 10:00 judge the 10:00 round, not the morning or the day before."""
    with factory() as s:
        for rule in s.scalars(select(TaskRule)):
            rule.created_at = local(2026, 6, 2, 10, 0)
        s.commit()
    site.tick(local(2026, 6, 2, 10, 1))
    site.tick(local(2026, 6, 2, 10, 31))
    assert [occ for _, occ, _ in _task_alerts(site)] == ["2026-06-02T10:00"]
    assert site.occurrence("kids-disinfection", "2026-06-02") is None


def test_bad_stored_rules_never_stop_the_tick(
    site: Site, factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    """A patrol whose offset leaves no round (600 min > the 510 min opening) and a stored
    rule that no longer validates: the tick still alerts the missed disinfection."""
    with factory() as s:
        patrol = s.scalar(select(TaskRule).where(TaskRule.code == "kids-patrol"))
        maint = s.scalar(select(TaskRule).where(TaskRule.code == "fitness-maintenance"))
        assert patrol is not None and maint is not None
        patrol.params = {**patrol.params, "offset_min": 600}
        maint.params = {**maint.params, "count": 0}  # count >= 1 is required
        s.commit()
    with caplog.at_level(logging.ERROR, logger="facility_server.compliance.load"):
        site.tick(local(2026, 6, 2, 5, 0))  # the terminal is heard from before the window
        report = site.tick(local(2026, 6, 2, 9, 31))
    assert f"task_missed:{DISINFECTION}:2026-06-02" in report.opened
    assert not [k for k in report.opened if "kids-patrol" in k]
    assert "fitness-maintenance" in caplog.text and "skipped" in caplog.text


def test_a_day_that_cannot_be_evaluated_is_logged_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An engine failure on one day drops that day (logged with rule, space, day); the
    other days of the rule are still evaluated."""
    from facility_server.compliance import engine
    from facility_server.compliance.load import RuleInfo
    from facility_server.compliance.rules import parse_rule
    from facility_server.compliance.tick import safe_evaluate
    from facility_server.compliance.views import SpaceContext
    from facility_server.opening import Schedule, parse_weekly

    real = engine.evaluate_patrol

    def broken(rule, ctx, day, now_ms):  # type: ignore[no-untyped-def]
        if day == date(2026, 6, 1):
            raise ValueError("boom")
        return real(rule, ctx, day, now_ms)

    monkeypatch.setattr(engine, "evaluate_patrol", broken)
    rule = parse_rule({"kind": "patrol", "every_min": 60, "window_min": 20, "grace_min": 10,
                       "checkpoints": ["gate"]})  # fmt: skip
    info = RuleInfo(7, 1, 3, "kids-patrol", "", rule, "v1")
    sch = Schedule(tz=ZoneInfo("Asia/Shanghai"), weekly=parse_weekly({"tue": ["09:00-11:00"]}))
    days = [date(2026, 6, 1), date(2026, 6, 2)]  # a Monday (closed: broken) and a Tuesday
    with caplog.at_level(logging.ERROR, logger="facility_server.compliance.tick"):
        occs = safe_evaluate(info, SpaceContext(sch), days, ms(local(2026, 6, 2, 12)))
    assert [o.key for o in occs] == ["2026-06-02T09:00", "2026-06-02T10:00"]
    assert "rule kids-patrol (id 7) of space 3 cannot be evaluated on 2026-06-01" in caplog.text


def test_board_at_one_shows_the_window_open_since_yesterday_evening(
    site: Site, factory: sessionmaker[Session]
) -> None:
    """A 22:00-02:00 disinfection: at 01:00 the board shows the 2026-06-02 window (due,
    deadline 02:00) besides 2026-06-03's pending one; at 15:00 only today's."""
    from facility_server.compliance.tick import evaluate_today

    with factory() as s:
        rule = s.scalar(select(TaskRule).where(TaskRule.code == "kids-disinfection"))
        assert rule is not None
        rule.params = {**rule.params, "start": "22:00", "deadline": "02:00"}
        s.commit()
        space_id = rule.space_id
        site.tick(local(2026, 6, 2, 21, 0))  # the terminal is heard from
        at_one = evaluate_today(s, [space_id], local(2026, 6, 3, 1, 0))
        at_three = evaluate_today(s, [space_id], local(2026, 6, 3, 15, 0))

    def board(evaluated):  # type: ignore[no-untyped-def]
        [occs] = [o for info, _, o in evaluated if info.code == "kids-disinfection"]
        return [(o.key, o.state, o.window.deadline_ms) for o in occs]

    assert board(at_one) == [
        ("2026-06-02", "due", ms(local(2026, 6, 3, 2, 0))),
        ("2026-06-03", "pending", ms(local(2026, 6, 4, 2, 0))),
    ]
    assert [k for k, _, _ in board(at_three)] == ["2026-06-03"]
