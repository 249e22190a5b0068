"""Open a database that must already exist and be migrated (never create one).

Commands that read the registry to produce something outside it (the broker's credentials)
must not run against an empty database: a typo in ``--db`` would otherwise create and
migrate a new one, and the command would write files for a registry with nothing in it.
"""

from __future__ import annotations

from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, make_url

from facility_server.core.db import make_engine
from facility_server.core.migrate import alembic_config


class DatabaseNotReady(RuntimeError):
    """The database does not exist, or is not migrated to the code's newest revision."""


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def open_existing(url: str) -> Engine:
    """An engine on an existing database at the newest migration.

    Args:
        url: SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).

    Raises:
        DatabaseNotReady: an SQLite file that does not exist (or an in-memory database),
            a database without the schema, or one at an older (or unknown) revision.
        sqlalchemy.exc.ArgumentError: not a database URL.
        sqlalchemy.exc.DBAPIError: the server cannot be reached or the database does not
            exist on it (PostgreSQL).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database or ""
        if name in ("", ":memory:"):
            raise DatabaseNotReady(f"{_shown(url)}: an in-memory database holds no registry")
        if not Path(name).is_file():
            raise DatabaseNotReady(f"{_shown(url)}: no such database file {Path(name).resolve()}")
    engine = make_engine(url)
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    if not current:
        engine.dispose()
        raise DatabaseNotReady(
            f"{_shown(url)}: not a facility database (no schema): "
            "check the URL, or run `facility server migrate` and import the setup first"
        )
    if current != heads:
        engine.dispose()
        raise DatabaseNotReady(
            f"{_shown(url)}: schema at revision {', '.join(sorted(current))}, the code "
            f"expects {', '.join(sorted(heads))}: run `facility server migrate` first"
        )
    return engine
