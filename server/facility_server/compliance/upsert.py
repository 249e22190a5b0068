"""Batch upserts of ``task_occurrences`` rows through the driver (for
:mod:`facility_server.compliance.store`).

Every batch is one ``INSERT ... ON CONFLICT (rule_id, key) DO UPDATE ... WHERE`` of many
rows: the evaluation tick writes tens of thousands of rows, and SQLAlchemy's per-row
parameter processing would cost more than the database (issue 5 benchmark: the first
tick of a day writes 66,000). The update applies only when the result differs
(``digest``), was evaluated at the same or a later instant (``updated_ms``) and counts at
least as many check-ins (``done_count``) unless it is an excusal. Send batches in key
order (a fixed lock order, so concurrent writers wait for each other instead of
deadlocking).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from itertools import chain
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.orm import Session

#: The columns of a row, in order.
COLUMNS = (
    "rule_id",
    "complex_id",
    "space_id",
    "key",
    "day",
    "state",
    "start_ms",
    "deadline_ms",
    "alert_ms",
    "until_ms",
    "done_ms",
    "reported_ms",
    "done_count",
    "needed_count",
    "satisfied_by",
    "missing",
    "reason",
    "digest",
    "updated_ms",
)
_KEYS = {"rule_id", "complex_id", "space_id", "key"}
#: Rows per SQLite INSERT statement (19 parameters each; SQLite allows 32,766).
_ROWS_PER_INSERT = 1000
_NAMES = ", ".join(COLUMNS)
# only constant column names are interpolated; every value is a bound parameter or COPY data
_TAIL = (
    " ON CONFLICT (rule_id, key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in _KEYS)
    + " WHERE task_occurrences.digest <> excluded.digest"
    " AND excluded.updated_ms >= task_occurrences.updated_ms"
    " AND (excluded.done_count >= task_occurrences.done_count"
    " OR excluded.state = 'excused')"
)
Rows = Sequence[tuple[Any, ...]]


class Upsert(Protocol):
    """A batch writer: ``send`` a batch (``last``: no more follow), ``wait`` until the
    batches sent are in (raising their error), ``close``. ``dates_as_text``: give the
    ``day`` column as ISO text (SQLite) instead of a date."""

    dates_as_text: bool

    def send(self, rows: Rows, last: bool) -> None: ...

    def wait(self) -> None: ...

    def close(self) -> None: ...


@contextmanager
def upserter(session: Session) -> Iterator[Upsert]:
    """The batch writer of the session's database, on its connection (in its
    transaction); leaving the block waits for every batch and raises the first error."""
    connection = session.connection()
    upsert: Upsert
    if connection.dialect.name == "postgresql":
        upsert = _CopyUpsert(connection.connection.dbapi_connection)
    else:
        upsert = _ValuesUpsert(connection)
    try:
        yield upsert
        upsert.wait()
    finally:
        upsert.close()


class _ValuesUpsert:
    """SQLite: multi-row VALUES statements of :data:`_ROWS_PER_INSERT` rows, at once."""

    dates_as_text = True

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def send(self, rows: Rows, last: bool) -> None:
        one = "(" + ",".join(["?"] * len(COLUMNS)) + ")"
        head = f"INSERT INTO task_occurrences ({_NAMES}) VALUES "  # noqa: S608
        for i in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[i : i + _ROWS_PER_INSERT]
            self.connection.exec_driver_sql(
                head + ",".join([one] * len(chunk)) + _TAIL, tuple(chain.from_iterable(chunk))
            )

    def wait(self) -> None:
        """Nothing runs in the background."""

    def close(self) -> None:
        """Nothing to release."""


class _CopyUpsert:
    """PostgreSQL on a psycopg connection ``raw``: each batch goes by COPY into a
    session-local table, then one INSERT ... SELECT upserts it (psycopg would parse the
    placeholders of huge VALUES lists in Python). A batch that is not the last is
    upserted by a background thread on the same connection while the caller prepares
    the next one (the first tick of a day: the server inserts while Python evaluates).
    Errors are psycopg's own (e.g. ``psycopg.errors.ForeignKeyViolation``)."""

    dates_as_text = False

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.table = False  # the session-local table exists
        self.pool: ThreadPoolExecutor | None = None  # started by a batch not the last
        self.pending: Future[None] | None = None

    def send(self, rows: Rows, last: bool) -> None:
        """COPY ``rows`` in and upsert them: now when ``last``, else in the background."""
        self.wait()  # the batch before is in, and the table empty again
        if not rows:
            return
        if not self.table:
            with self.raw.cursor() as cursor:
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS task_occurrences_in"
                    " (LIKE task_occurrences INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
            self.table = True
        with (
            self.raw.cursor() as cursor,
            cursor.copy(f"COPY task_occurrences_in ({_NAMES}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        if last:
            self._insert()
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="occurrence-upsert")
        self.pending = self.pool.submit(self._insert)

    def wait(self) -> None:
        """Wait for the batch in the background; raise its error."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the background thread, even after an error: never leave the
        connection to two threads."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def _insert(self) -> None:
        """Upsert the rows of the session-local table in key order; empty it."""
        with self.raw.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO task_occurrences ({_NAMES}) SELECT {_NAMES}"  # noqa: S608
                " FROM task_occurrences_in ORDER BY rule_id, key" + _TAIL
            )
            cursor.execute("DELETE FROM task_occurrences_in")  # TRUNCATE: slower for few rows
