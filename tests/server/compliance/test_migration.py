"""Migrations of the compliance tables on databases holding data: 0003 keeps old alerts
and counts them as notified (upgrading never sends messages about them); 0006 gives
occurrences their rule's space."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from facility_server.core.db import make_engine, session_factory
from facility_server.core.migrate import downgrade, upgrade
from facility_server.models import Space, TaskOccurrence, TaskRule
from facility_server.setup.importer import import_setup_text
from sqlalchemy import inspect, select, text

from .. import test_migrations
from .conftest import example_text

empty_url = test_migrations.empty_url  # the fixture: a new empty database of each backend


def test_existing_alerts_survive_and_are_not_renotified(tmp_path: Path) -> None:
    """Alerts from before 0003 keep their data and are not notified again."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    engine = make_engine(url)
    with engine.begin() as conn:
        for key, state in (("a", "open"), ("b", "resolved")):
            conn.execute(
                text(
                    "INSERT INTO alerts (kind, subject, occurrence, dedupe_key, state, severity,"
                    " title, detail, opened_at) VALUES ('device_offline', 's', 'o', :k, :s,"
                    " 'warning', 't', '{}', CURRENT_TIMESTAMP)"
                ),
                {"k": key, "s": state},
            )
    upgrade(url, "0003")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT dedupe_key, escalation_level, notified_level, notified_resolved"
                " FROM alerts ORDER BY dedupe_key"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("a", 0, -1, 0), ("b", 0, -1, 1)]


def _occurrence(rule: TaskRule, space_id: int, key: str) -> TaskOccurrence:
    at = 1_780_000_000_000
    return TaskOccurrence(
        rule_id=rule.id, complex_id=rule.complex_id, space_id=space_id, key=key,
        day=date(2026, 6, 2), state="missed", start_ms=at, deadline_ms=at, alert_ms=at,
        until_ms=at, done_count=0, needed_count=1, satisfied_by=[], missing=[], reason="",
        digest="0" * 16, updated_ms=at,
    )  # fmt: skip


def test_0006_moves_occurrences_to_their_rules_space(empty_url: str, example_path: Path) -> None:
    """Occurrences left in the old space of a moved rule take their rule's space in 0006
    (one foreign key on rule, complex and space); down to 0005 and up again keep them."""
    upgrade(empty_url, "0005")
    engine = make_engine(empty_url)
    with session_factory(engine)() as s:
        import_setup_text(s, example_text(example_path))
        spaces = dict(s.execute(select(Space.code, Space.id)).all())
        rule = s.scalars(select(TaskRule).where(TaskRule.code == "kids-disinfection")).one()
        assert rule.space_id == spaces["kids-play"]
        s.add(_occurrence(rule, spaces["kids-play"], "2026-06-02"))
        s.add(_occurrence(rule, spaces["culture"], "2026-06-01"))  # stored before a move
        s.commit()
    query = text("SELECT key, space_id FROM task_occurrences ORDER BY key")
    upgrade(empty_url, "0006")
    with engine.connect() as conn:
        moved = [tuple(r) for r in conn.execute(query)]
        keys = inspect(conn).get_foreign_keys("task_occurrences")
    assert moved == [("2026-06-01", spaces["kids-play"]), ("2026-06-02", spaces["kids-play"])]
    assert [k["constrained_columns"] for k in keys] == [["rule_id", "complex_id", "space_id"]]
    downgrade(empty_url, "0005")
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(query)] == moved
        keys = inspect(conn).get_foreign_keys("task_occurrences")
    assert sorted(c for k in keys for c in k["constrained_columns"]) == [
        "complex_id", "rule_id", "space_id"
    ]  # fmt: skip
    upgrade(empty_url)
    engine.dispose()
