"""Migration 0004 (up, down, models match), vote storage once per event id, the demo's
JSON-ready functions, and the report benchmark at a small scale."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from facility_contracts.envelope import SatisfactionVote, SatisfactionVoteBody
from facility_server.bench_report import run
from facility_server.core.db import make_engine
from facility_server.core.migrate import downgrade, upgrade
from facility_server.models import Base
from facility_server.satisfaction.models import SatisfactionVote as VoteRow
from facility_server.satisfaction.store import store_vote
from facility_server.scorecard import scorecard
from facility_server.utilisation import utilisation_summary
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from .helpers import SITE, add_crossings, example, local, ms


def test_migration_0004_up_down_and_models_match(tmp_path: Path) -> None:
    """0004 creates the four tables matching the models; down to 0003 drops them."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
        assert diff == []
    downgrade(url, "0003")
    with engine.connect() as conn:
        assert "utilisation_days" not in inspect(conn).get_table_names()
    upgrade(url)
    with engine.connect() as conn:
        assert {
            "utilisation_hours",
            "utilisation_days",
            "satisfaction_votes",
            "rectifications",
        } <= set(inspect(conn).get_table_names())
    engine.dispose()


def test_vote_is_stored_once(factory: sessionmaker[Session]) -> None:
    """A redelivered vote (same event id) is stored once, at its synchronised device time."""
    at = local(2026, 6, 2, 10)
    event = SatisfactionVote(
        id="e" * 32,
        device="sat-health",
        boot="b1",
        seq=1,
        ts=ms(at),
        mono=5,
        synced=True,
        body=SatisfactionVoteBody(space="health", rating="satisfied"),
    )
    with factory() as session:
        cx, _ = example(session)
        now = datetime(2026, 6, 2, 3, tzinfo=UTC)
        assert store_vote(session, cx, event, now) is True
        assert store_vote(session, cx, event, now) is False
        row = session.scalars(select(VoteRow)).one()
        assert (row.ts_ms, row.rating, row.space_id is not None) == (ms(at), "satisfied", True)
        assert session.scalar(select(func.count()).select_from(VoteRow)) == 1


def test_demo_functions_return_json_ready_dicts(factory: sessionmaker[Session]) -> None:
    """utilisation_summary and scorecard give plain JSON-serialisable dictionaries."""
    with factory() as session:
        _, spaces = example(session)
        add_crossings(session, spaces["culture"], [(local(2026, 6, 2, 10), 5, 2)])
        summary = utilisation_summary(
            session, SITE, local(2026, 6, 1), local(2026, 6, 8), now=local(2026, 6, 8)
        )
        card = scorecard(session, SITE, "2026H1")
    text = json.dumps({"summary": summary, "card": card}, ensure_ascii=False)
    assert json.loads(text)["summary"]["to"] == "2026-06-08"
    culture = next(s for s in summary["spaces"] if s["space"] == "culture")
    assert (culture["visits"], culture["drift"]) == (5, 3)
    assert [c["clause"] for c in card["clauses"]][:2] == ["elderly_lectures", "job_events"]
    assert card["period"]["to"] == date(2026, 7, 1).isoformat()


def test_bench_report_runs_small(db_url: str) -> None:
    """run() loads a small district with hourly data and times both reports."""
    result = run(db_url, complexes=3)
    assert (result["complexes"], result["spaces"]) == (3, 36)
    assert result["hour_rows"] > 0 and result["day_rows"] == 36 * 181
    assert result["complex_s"] > 0 and result["district_s"] > 0
