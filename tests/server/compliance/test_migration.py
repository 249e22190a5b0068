"""Migration 0003 on a database holding alerts: they keep their data and count as
notified, so upgrading never sends messages about old alerts."""

from __future__ import annotations

from pathlib import Path

from facility_server.core.db import make_engine
from facility_server.core.migrate import upgrade
from sqlalchemy import text


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
