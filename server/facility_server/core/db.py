"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite gets foreign keys on, WAL and a busy timeout on every connection, so the ingest
and the API may write from two threads or processes without "database is locked"; and
``secure_delete`` on, so deleted rows (health readings, erased members) are overwritten
with zeros in the file instead of lingering in free space. The server creates a new
SQLite file readable by its owner only (0600; :func:`create_private_sqlite`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; SQLite connections get pragmas (see module doc)."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def create_private_sqlite(url: str) -> None:
    """Create the file of an SQLite ``url`` with mode 0600 when it does not exist yet
    (SQLite gives its ``-wal`` and ``-shm`` files the same mode). Other URLs, in-memory
    databases and missing folders are left alone (SQLite reports the latter)."""
    parsed = make_url(url)
    name = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or name in ("", ":memory:"):
        return
    path = Path(name)
    if path.exists() or not path.parent.is_dir():
        return
    with contextlib.suppress(FileExistsError):  # created by another process meanwhile
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def checkpoint(bind: Engine | Any) -> None:
    """After a commit that deleted personal data: copy SQLite's write-ahead log into the
    database file and truncate it (``PRAGMA wal_checkpoint(TRUNCATE)``), so the log holds
    no copy of the deleted rows. Best effort: a reader still holding an old snapshot keeps
    the log (logged at WARNING). PostgreSQL: nothing to do here (dead row versions go with
    ``VACUUM``, which autovacuum runs)."""
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        busy, _log, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    if busy:
        logger.warning("SQLite WAL checkpoint blocked by a reader; the log is cleared later")


def dialect_insert(session: Session) -> Any:
    """The ``insert`` of the session's database (PostgreSQL's or SQLite's), which has
    ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def insert_ignore(session: Session, model: Any, values: dict[str, Any], keys: list[str]) -> bool:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` of one row; True when this call
    inserted it (False: a row with those unique ``keys`` exists, e.g. a redelivery)."""
    stmt = (
        dialect_insert(session)(model).values(**values).on_conflict_do_nothing(index_elements=keys)
    )
    return session.execute(stmt.returning(getattr(model, keys[-1]))).first() is not None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory that keeps loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit on success, roll back on any error."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
