"""The utilisation job runner the server starts: one run refreshes today's figures."""

from __future__ import annotations

from datetime import UTC, datetime

from facility_server.utilisation.runner import UtilisationRunner
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from .helpers import add_crossings, example, local


def test_one_run_stores_todays_visits(factory: sessionmaker[Session]) -> None:
    """Door events of today (local) appear in utilisation_days after one run, summed."""
    site = "runner-site"
    with factory() as session:
        _cx, spaces = example(session, site)
        culture = spaces["culture"]
        add_crossings(
            session,
            culture,
            [
                (local(2026, 11, 27, 10, 5), 3, 0),
                (local(2026, 11, 27, 11, 0), 2, 1),
                (local(2026, 11, 27, 15, 30), 0, 4),
            ],
        )
        session.commit()
        space_id = culture.id
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
    runner = UtilisationRunner(factory, lambda: now)
    runner.run_once()
    with factory() as session:
        visits = session.execute(
            text("SELECT SUM(visits) FROM utilisation_days WHERE space_id = :s AND day = :d"),
            {"s": space_id, "d": "2026-11-27"},
        ).scalar()
    assert visits == 3 + 2 and runner.last_run == now
