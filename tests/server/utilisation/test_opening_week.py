"""A fixture week with known opening: open hours and days equal hand-computed values, and
the mid-week warning fires exactly when the quota can no longer be met (not before).

Week 2026-W23 (Mon 1 June .. Sun 7 June 2026, Asia/Shanghai; no public holiday).
Culture (published Tue-Sun 09:00-12:00 and 13:30-20:30, 60 h): opened by check-in Tue
08:55-12:05 and 13:25-17:30 (3 h 10 min + 4 h 05 min = 7.25 h); Wednesday a door event
at 10:15 opens the morning interval (3 h); nothing else: 10.25 h on 2 days.
On Saturday at time t (morning) the plan still offers (12:00 - t) + 7 h + 10 h, so
10.25 + 20 - (t - 09:00) < 28 h from t = 11:15 on: at 11:15 still reachable, at 11:16 not.
Health (published Mon-Fri 08:00-11:30 and 13:30-17:00, Sat 08:00-11:30): opened Monday
08:00-17:00 (9 h, 1 day) only. On Wednesday the plan offers Wed, Thu, Fri, Sat (1 + 4 = 5
days) until Wednesday's last closing at 17:00; from 17:00 only 1 + 3 = 4 < 5.
"""

from __future__ import annotations

from datetime import date

import pytest
from facility_server.models import Alert
from facility_server.utilisation.quota_watch import check_opening_quotas
from facility_server.utilisation.refresh import refresh_days
from facility_server.utilisation.summary import utilisation_summary
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .helpers import SITE, add_checkins, add_crossings, example, local


@pytest.fixture
def week(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The example complex with the fixture week's check-ins and door events."""
    with factory() as session:
        _, spaces = example(session)
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
        add_crossings(session, spaces["culture"], [(local(2026, 6, 3, 10, 15), 2, 1)])
        add_checkins(
            session,
            spaces["health"],
            [
                (local(2026, 6, 1, 8, 0), "opening"),
                (local(2026, 6, 1, 17, 0), "closing"),
            ],
        )
        session.commit()
    return factory


def _quota_alerts(session: Session, space: str) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert).where(Alert.kind == "opening_quota", Alert.subject == f"{SITE}/{space}")
        )
    )


def test_open_hours_and_days_equal_hand_computed(week: sessionmaker[Session]) -> None:
    """After the week: culture 10.25 h on 2 days, health 9 h on 1 day (actual opening)."""
    with week() as session:
        refresh_days(session, local(2026, 6, 8), date(2026, 6, 1), date(2026, 6, 7))
        out = utilisation_summary(
            session, SITE, date(2026, 6, 1), date(2026, 6, 8), now=local(2026, 6, 8), refresh=False
        )
    spaces = {s["space"]: s for s in out["spaces"]}
    (culture,) = spaces["culture"]["weekly_opening"]
    assert (culture["week"], culture["actual_open_h"], culture["open_days"]) == (
        "2026-W23",
        10.25,
        2,
    )
    assert culture["met"] is False
    (health,) = spaces["health"]["weekly_opening"]
    assert (health["actual_open_h"], health["open_days"], health["met"]) == (9.0, 1, False)
    per_day = {d["day"]: d["actual_open_h"] for d in spaces["culture"]["days"]}
    assert per_day == {
        "2026-06-01": 0.0,
        "2026-06-02": 7.25,
        "2026-06-03": 3.0,
        "2026-06-04": 0.0,
        "2026-06-05": 0.0,
        "2026-06-06": 0.0,
        "2026-06-07": 0.0,
    }


def test_culture_warning_fires_at_11_16_saturday_not_before(week: sessionmaker[Session]) -> None:
    """No culture warning on Friday night or at Saturday 11:15; one at 11:16, opened once."""
    with week() as session:
        for at in (local(2026, 6, 5, 23, 0), local(2026, 6, 6, 11, 15)):
            check_opening_quotas(session, at)
            assert _quota_alerts(session, "culture") == []
        check_opening_quotas(session, local(2026, 6, 6, 11, 16))
        check_opening_quotas(session, local(2026, 6, 6, 11, 30))
        (alert,) = _quota_alerts(session, "culture")
    assert alert.occurrence == "2026-W23" and alert.state == "open"
    assert alert.detail["achieved"] == 10.25 and alert.detail["quota"] == "hours >= 28"


def test_health_warning_fires_at_wednesdays_closing_not_before(
    week: sessionmaker[Session],
) -> None:
    """Health: nothing at Wednesday 16:59 (5 days still possible), a warning at 17:00."""
    with week() as session:
        check_opening_quotas(session, local(2026, 6, 3, 16, 59))
        assert _quota_alerts(session, "health") == []
        result = check_opening_quotas(session, local(2026, 6, 3, 17, 0))
        (alert,) = _quota_alerts(session, "health")
    assert [a.id for a in result["opened"]] == [alert.id]
    assert alert.detail["achieved"] == 1 and alert.detail["possible_rest"] == 3
