"""Server fixtures: one suite on SQLite and on PostgreSQL.

``db_backend`` is parametrised (``sqlite``, ``postgresql``) and session-scoped: it makes a
migrated template once per backend. Each test then gets a fresh database: a copy of the
SQLite template file, or the session's PostgreSQL database with every table truncated.
PostgreSQL comes from ``FACILITY_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); the suite creates its own
database ``facility_test_<random>`` there and drops it at the end. When the variable is
unset and no server answers, the PostgreSQL half is skipped; when it is set, it must work.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from facility_server.api.app import create_app
from facility_server.core.db import make_engine, session_factory
from facility_server.core.migrate import upgrade
from facility_server.core.settings import Settings, get_settings
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
EXAMPLE = Path(__file__).resolve().parents[2] / "server" / "examples" / "setup.yaml"


@dataclass
class Backend:
    """A migrated database template of one kind."""

    kind: str
    url: str


def _pg_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """A migrated template database per backend (session-wide)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "template.db"
        upgrade(f"sqlite:///{path}")
        sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
        yield Backend("sqlite", f"sqlite:///{path}")
        return
    base = os.environ.get("FACILITY_TEST_POSTGRES_URL")
    try:
        admin = psycopg.connect(
            _pg_conninfo(base or DEFAULT_PG), autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as exc:
        if base:
            pytest.fail(f"FACILITY_TEST_POSTGRES_URL set but unreachable: {exc}")
        pytest.skip(f"no PostgreSQL at {DEFAULT_PG}: {exc}")
    name = f"facility_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base or DEFAULT_PG).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield Backend("postgresql", url)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _all_tables() -> str:
    """Every table of the models (so a table added later is emptied too)."""
    from facility_server.models import Base

    return ", ".join(t.name for t in Base.metadata.sorted_tables)


@pytest.fixture
def db_url(db_backend: Backend, tmp_path: Path) -> str:
    """A fresh, migrated, empty database for this test."""
    if db_backend.kind == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(make_url(db_backend.url).database or "", path)
        return f"sqlite:///{path}"
    engine = make_engine(db_backend.url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {_all_tables()} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return db_backend.url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on this test's database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory on this test's database."""
    return session_factory(engine)


class FakeClock:
    """A settable clock (UTC)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    """A clock at Tuesday 2026-06-02 10:00 Asia/Shanghai (02:00 UTC), a normal workday."""
    return FakeClock(datetime(2026, 6, 2, 2, 0, tzinfo=UTC))


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings for this test's database, with a fixed JWT key."""
    return get_settings(
        database_url=db_url, jwt_secret="test-secret-" + "x" * 32, max_body_bytes=65536
    )


@pytest.fixture
def client(settings: Settings, engine: Engine, clock: FakeClock) -> Iterator[TestClient]:
    """The API in process, on this test's database and clock."""
    with TestClient(create_app(settings, engine=engine, clock=clock)) as c:
        yield c


@pytest.fixture
def example_path() -> Path:
    """The shipped example setup file."""
    return EXAMPLE


@pytest.fixture
def world(factory: sessionmaker[Session], example_path: Path, clock: FakeClock, client: TestClient):  # type: ignore[no-untyped-def]
    """Three complexes in two districts and a token per role (see tests/server/world.py)."""
    from .world import build_world

    return build_world(factory, example_path, clock.now)
