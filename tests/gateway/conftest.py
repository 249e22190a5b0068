"""Fixtures of the gateway tests (servers come from tests/conftest.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from facility_gateway.dedupe import DedupeStore

PG_URL = os.environ.get(
    "FACILITY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sqlite_dedupe_url(tmp_path: Path) -> str:
    """A dedupe store URL on a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'dedupe.sqlite'}"


@pytest.fixture
def dedupe_factory(tmp_path: Path) -> Iterator[Callable[..., DedupeStore]]:
    """Make dedupe stores on ``sqlite`` (one file per test) or ``postgres`` (a unique
    table prefix per test, dropped afterwards)."""
    made: list[DedupeStore] = []
    prefix = "t" + uuid.uuid4().hex[:10] + "_"

    def make(backend: str = "sqlite", **kwargs: object) -> DedupeStore:
        url = PG_URL if backend == "postgres" else f"sqlite:///{tmp_path / 'dedupe.sqlite'}"
        try:
            store = DedupeStore(url, table_prefix=prefix, **kwargs)  # type: ignore[arg-type]
        except Exception as exc:  # pragma: no cover - environment problem
            pytest.fail(f"cannot open dedupe store {url}: {exc}")
        made.append(store)
        return store

    yield make
    if made:
        made[0].table.drop(made[0].engine, checkfirst=True)
    for store in made:
        store.close()
