"""Alembic environment: online migrations against the configured URL."""

from __future__ import annotations

from alembic import context
from facility_server.core.db import make_engine
from facility_server.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations in one transaction per revision (SQLite: batch mode for ALTERs)."""
    url = config.get_main_option("sqlalchemy.url")
    assert url
    connectable = config.attributes.get("connection") or make_engine(url)
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            _run(connection)
        connectable.dispose()
    else:
        _run(connectable)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
