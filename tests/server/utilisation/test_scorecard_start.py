"""Weekly opening quotas are judged from a space's start: the earlier of its registration
and its first recorded use; after that, weeks without data count as 0.

Period 2026-07 (no public holiday in July 2026); ISO weeks wholly inside it: W28 (Mon 6 ..
Sun 12 July), W29 (13 .. 19), W30 (20 .. 26). Example complex: culture published Tue-Sun
09:00-12:00 and 13:30-20:30 (3 h + 7 h); health Mon-Fri 08:00-11:30 and 13:30-17:00, Sat
08:00-11:30. A door event inside a published interval counts that interval as open,
whole: events at 10:00 and 15:00 make a culture day of 10 h, an event at 09:00 a health
open day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from facility_server.models import Space
from facility_server.opening import Schedule, parse_weekly
from facility_server.reports import build_report
from facility_server.scorecard import scorecard
from facility_server.scorecard.start import first_judged_week
from facility_server.utilisation.refresh import refresh_days
from sqlalchemy.orm import Session, sessionmaker

from .helpers import SITE, add_crossings, example, local

CULTURE_WEEK = {d: ["09:00-12:00", "13:30-20:30"] for d in ("tue", "wed", "thu", "fri", "sat")}
CULTURE_WEEK["sun"] = ["09:00-12:00", "13:30-20:30"]


def _culture_days(session: Session, space: Space, days: list[date]) -> None:
    """Door events at 10:00 and 15:00 (both published intervals) on each day."""
    add_crossings(
        session,
        space,
        [(local(d.year, d.month, d.day, h), 1, 1) for d in days for h in (10, 15)],
    )


def _health_days(session: Session, space: Space, days: list[date]) -> None:
    """A door event at 09:00 (the morning interval) on each day."""
    add_crossings(session, space, [(local(d.year, d.month, d.day, 9), 1, 1) for d in days])


def _span(first: date, n: int) -> list[date]:
    return [first + timedelta(days=k) for k in range(n)]


def _registered(spaces: dict[str, Space], at: datetime, *codes: str) -> None:
    for code in codes:
        spaces[code].created_at = at.astimezone(UTC)


def _weeks(clause: dict[str, Any]) -> list[tuple[str, float]]:
    """(week, value) of the weeks a clause judged."""
    return [(w["week"], w["value"]) for w in clause["detail"]["weeks"]]


def _card(factory: sessionmaker[Session], now: datetime) -> dict[str, dict[str, Any]]:
    with factory() as session:
        refresh_days(session, local(2026, 8, 1), date(2026, 7, 1), date(2026, 7, 31))
        session.commit()
        card = scorecard(session, SITE, "2026-07", now=now)
    return {c["clause"]: c for c in card["clauses"]}


def test_first_judged_week_skips_a_week_already_open_before_the_start() -> None:
    """The start's week is judged only when nothing was published open before it that week."""
    culture = Schedule(weekly=parse_weekly(CULTURE_WEEK))  # closed on Mondays
    assert first_judged_week(culture, date(2026, 7, 14)) == date(2026, 7, 13)  # Tue: Mon shut
    assert first_judged_week(culture, date(2026, 7, 13)) == date(2026, 7, 13)  # Mon itself
    assert first_judged_week(culture, date(2026, 7, 15)) == date(2026, 7, 20)  # Wed: Tue open
    assert first_judged_week(culture, date(2026, 7, 12)) == date(2026, 7, 13)  # Sun: Tue-Sat


def test_weeks_before_registration_are_not_judged(factory: sessionmaker[Session]) -> None:
    """Spaces registered on Wed 8 July are judged from W29: culture min(60 h, 30 h) = 30 h
    passes, health min(6, 5) = 5 days passes; W28 (no data, before the start) is left out,
    named in the note, and marked "before start" in the report's opening table."""
    with factory() as session:
        _, spaces = example(session)
        _registered(spaces, local(2026, 7, 8, 10), "culture", "health")
        _culture_days(session, spaces["culture"], _span(date(2026, 7, 14), 6))  # Tue-Sun
        _culture_days(session, spaces["culture"], _span(date(2026, 7, 21), 3))  # Tue-Thu
        _health_days(session, spaces["health"], _span(date(2026, 7, 13), 6))  # Mon-Sat
        _health_days(session, spaces["health"], _span(date(2026, 7, 20), 5))  # Mon-Fri
        session.commit()
    card = _card(factory, local(2026, 8, 1))
    culture, health = card["culture_hours"], card["health_days"]
    assert (culture["value"], culture["status"]) == (30.0, "pass")
    assert _weeks(culture) == [("2026-W29", 60.0), ("2026-W30", 30.0)]
    assert culture["detail"]["judged_from"] == {"culture": "2026-W29"}
    assert "culture 2026-W29" in culture["note"]
    assert (health["value"], health["status"]) == (5.0, "pass")
    assert _weeks(health) == [("2026-W29", 6), ("2026-W30", 5)]
    with factory() as session:
        report = build_report(session, "complex", SITE, "2026-07")
    (opening,) = [t for t in report.tables if t.title.startswith("Actual opening")]
    rows = {(r[1], r[3]): r[-1] for r in opening.rows}
    assert rows[("culture", "2026-W28")] == rows[("health", "2026-W28")] == "before start"
    assert rows[("culture", "2026-W30")] == "met"


def test_use_before_registration_starts_the_judging(factory: sessionmaker[Session]) -> None:
    """History replayed before the registration (the demo): spaces registered on 10 August,
    first use on Sun 12 July (culture open 10 h; health only counted people on a closed
    Sunday) are judged from W29, as of Wed 29 July: culture 60 h and health 5 days pass."""
    with factory() as session:
        _, spaces = example(session)
        _registered(spaces, local(2026, 8, 10, 9), "culture", "health")
        _culture_days(session, spaces["culture"], _span(date(2026, 7, 12), 15))  # Sun-Sun
        _health_days(session, spaces["health"], [date(2026, 7, 12)])  # a Sunday: closed
        _health_days(session, spaces["health"], _span(date(2026, 7, 13), 5))  # Mon-Fri
        _health_days(session, spaces["health"], _span(date(2026, 7, 20), 6))  # Mon-Sat
        session.commit()
    card = _card(factory, local(2026, 7, 29, 12))
    culture, health = card["culture_hours"], card["health_days"]
    assert [w["week"] for w in culture["detail"]["weeks"]] == ["2026-W29", "2026-W30"]
    assert (culture["value"], culture["status"]) == (60.0, "pass")
    assert _weeks(health) == [("2026-W29", 5), ("2026-W30", 6)]
    assert (health["value"], health["status"]) == (5.0, "pass")


def test_weeks_without_data_after_the_start_count_as_zero(
    factory: sessionmaker[Session],
) -> None:
    """A silent counter hides no closed room: culture registered in June with use only in
    W29 fails with 0 h (W28 and W30 count 0); health registered Wed 8 July with use only
    in W29 fails with 0 days (W30)."""
    with factory() as session:
        _, spaces = example(session)
        _registered(spaces, local(2026, 6, 1, 9), "culture")
        _registered(spaces, local(2026, 7, 8, 10), "health")
        _culture_days(session, spaces["culture"], _span(date(2026, 7, 14), 6))
        _health_days(session, spaces["health"], _span(date(2026, 7, 13), 6))
        session.commit()
    card = _card(factory, local(2026, 8, 1))
    culture, health = card["culture_hours"], card["health_days"]
    assert _weeks(culture) == [("2026-W28", 0.0), ("2026-W29", 60.0), ("2026-W30", 0.0)]
    assert (culture["value"], culture["status"]) == (0.0, "fail")
    assert culture["detail"]["judged_from"] == {}
    assert _weeks(health) == [("2026-W29", 6), ("2026-W30", 0)]
    assert (health["value"], health["status"]) == (0.0, "fail")


def test_a_space_started_after_the_period_is_not_judged(
    factory: sessionmaker[Session],
) -> None:
    """Registered in August without any earlier use: July has nothing to judge (n/a)."""
    with factory() as session:
        _, spaces = example(session)
        _registered(spaces, local(2026, 8, 10, 9), "culture", "health")
        session.commit()
    card = _card(factory, local(2026, 8, 1))
    for key in ("culture_hours", "health_days"):
        assert (card[key]["value"], card[key]["status"], card[key]["detail"]["weeks"]) == (
            None,
            "n/a",
            [],
        )
