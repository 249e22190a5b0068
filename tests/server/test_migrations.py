"""Migrations: empty -> head, previous -> head with data, down one and up again; the
models match the migrated schema; the audit log refuses UPDATE and DELETE."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from facility_server.core.db import make_engine
from facility_server.core.migrate import alembic_config, downgrade, upgrade
from facility_server.models import Base
from sqlalchemy import inspect, make_url, text
from sqlalchemy.exc import DBAPIError

from .conftest import Backend, _pg_conninfo


@pytest.fixture
def empty_url(db_backend: Backend, tmp_path: Path) -> Iterator[str]:
    """A brand-new empty database of the backend under test."""
    if db_backend.kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"facility_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_pg_conninfo(db_backend.url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(db_backend.url).set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    return rev


def test_upgrade_from_empty_reaches_head_and_matches_models(empty_url: str) -> None:
    """An empty database upgrades to head, and the schema equals the models' metadata."""
    upgrade(empty_url)
    script = ScriptDirectory.from_config(alembic_config(empty_url))
    head = script.get_current_head()
    assert _revision(empty_url) == head
    assert {"0001", "0002", "0003"} <= {r.revision for r in script.walk_revisions()}
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    assert diff == []


def test_previous_revision_with_data_upgrades(empty_url: str) -> None:
    """A database at the previous revision, holding data, upgrades to head keeping the data."""
    upgrade(empty_url, "0001")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO regions (kind, code, name, path, created_at) "
                "VALUES ('district', 'xihu', '西湖区', 'xihu', CURRENT_TIMESTAMP)"
            )
        )
    upgrade(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM regions")).scalar_one() == "西湖区"
        assert "alerts" in inspect(conn).get_table_names()
    engine.dispose()


def test_downgrade_one_and_upgrade_again(empty_url: str) -> None:
    """Down to 0002 drops the compliance tables and columns (0003); up again restores head."""
    upgrade(empty_url)
    head = _revision(empty_url)
    downgrade(empty_url, "0002")
    assert _revision(empty_url) == "0002"
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert "task_rules" not in inspect(conn).get_table_names()
        assert "escalation_level" not in {c["name"] for c in inspect(conn).get_columns("alerts")}
    engine.dispose()
    upgrade(empty_url)
    assert _revision(empty_url) == head


def test_audit_log_is_append_only(db_url: str) -> None:
    """The database itself refuses UPDATE and DELETE on audit_log."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, target, outcome, detail) "
                "VALUES (CURRENT_TIMESTAMP, 'system', 'test', 't', 'ok', '{}')"
            )
        )
    for sql in ("UPDATE audit_log SET outcome = 'forged'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(sql))
    engine.dispose()
