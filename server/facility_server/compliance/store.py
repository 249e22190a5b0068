"""Store evaluated occurrences: write only what changed, never go back in time or progress.

Rows are upserted on the unique (rule, key) with multi-row ``INSERT ... ON CONFLICT DO
UPDATE ... WHERE`` statements (SQLite and PostgreSQL, through the driver). The update
applies only when the result differs (``digest``), was evaluated at the same or a later
instant (``updated_ms``) and counts at least as many check-ins (``done_count``) unless it
is an excusal: so a process that evaluated on slightly older data cannot overwrite a
newer result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from itertools import chain
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.compliance.engine import digest
from facility_server.compliance.load import RuleInfo
from facility_server.compliance.views import Occurrence
from facility_server.models import TaskOccurrence

_COLUMNS = (
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
#: Rows per INSERT statement (19 parameters each; SQLite allows 32,766 per statement).
_ROWS_PER_INSERT = 1000


class Change(NamedTuple):
    """An occurrence whose stored result changed: the rule, the result, the state before."""

    info: RuleInfo
    occ: Occurrence
    before: str | None


def _json_ids(ids: Sequence[int]) -> str:
    return "[" + ",".join(map(str, ids)) + "]"


def row_of(
    info: RuleInfo, occ: Occurrence, now_ms: int, digest_: str, day: date | str
) -> tuple[Any, ...]:
    """The ``task_occurrences`` row of an evaluated occurrence, in :data:`_COLUMNS` order
    (JSON columns as JSON text; ``day``: the local day, as ISO text for SQLite)."""
    w = occ.window
    return (
        info.id,
        info.complex_id,
        info.space_id,
        w.key,
        day,
        occ.state,
        w.start_ms,
        w.deadline_ms,
        w.alert_ms,
        w.until_ms,
        occ.done_ms,
        occ.reported_ms,
        occ.done_count,
        occ.needed_count,
        _json_ids(occ.satisfied_by),
        json.dumps(list(occ.missing), ensure_ascii=False) if occ.missing else "[]",
        occ.reason[:200],
        digest_,
        now_ms,
    )


def stored(
    session: Session, days: Iterable[date], rule_ids: Sequence[int] | None = None
) -> dict[tuple[int, str], tuple[str, str]]:
    """(rule id, key) -> (digest, state) of stored occurrences on local ``days``."""
    stmt = select(
        TaskOccurrence.rule_id, TaskOccurrence.key, TaskOccurrence.digest, TaskOccurrence.state
    ).where(TaskOccurrence.day.in_(sorted(set(days))))
    if rule_ids is not None:
        stmt = stmt.where(TaskOccurrence.rule_id.in_(rule_ids))
    return {(r, k): (d, s) for r, k, d, s in session.connection().execute(stmt).all()}


class Memo:
    """What one process last stored or found stored, per (rule id, rule version, key).

    The timer tick of a running server evaluates the same occurrences again and again;
    with a memo, an unchanged result is recognised by comparing it with the remembered
    one, without a digest or a database read. Only a cache: another process's newer row
    is still protected by the upsert's conditions, and a result that differs from the
    memo is compared with the database as usual. Keep one per process and database, and
    call :meth:`accept` after the transaction committed (:meth:`forget` when it failed).
    """

    def __init__(self) -> None:
        self.seen: dict[tuple[int, str, str], Occurrence] = {}
        self.pending: dict[tuple[int, str, str], Occurrence] | None = None

    def accept(self) -> None:
        """The last write committed: remember its results."""
        if self.pending is not None:
            self.seen, self.pending = self.pending, None

    def forget(self) -> None:
        """The last write did not commit: remember nothing."""
        self.seen, self.pending = {}, None


def write(
    session: Session,
    results: Iterable[tuple[RuleInfo, Sequence[Occurrence]]],
    now_ms: int,
    rule_ids: Sequence[int] | None = None,
    memo: Memo | None = None,
) -> tuple[list[Change], int]:
    """Upsert every non-pending occurrence whose result changed (see :class:`Memo`).

    Returns:
        (the changes, the number of occurrences evaluated).
    """
    flat = [(info, occ) for info, occs in results for occ in occs if occ.state != "pending"]
    seen = memo.seen if memo is not None else {}
    if memo is not None:
        memo.pending = {(i.id, i.version, o.window.key): o for i, o in flat}
    todo = flat
    if seen:
        todo = [(i, o) for i, o in flat if seen.get((i.id, i.version, o.window.key)) != o]
    if not todo:
        return [], len(flat)
    days = {o.window.day for _, o in todo}
    before = stored(session, days, rule_ids or _ids(todo, flat))
    dialect = session.get_bind().dialect.name
    as_text = dialect == "sqlite"
    day_of: dict[date, date | str] = {d: d.isoformat() if as_text else d for d in days}
    rows, changes = [], []
    for info, occ in todo:
        fingerprint = digest(occ)
        old = before.get((info.id, occ.window.key)) if before else None
        if old is not None and old[0] == fingerprint:
            continue
        rows.append(row_of(info, occ, now_ms, fingerprint, day_of[occ.window.day]))
        changes.append(Change(info, occ, None if old is None else old[1]))
    _upsert(session, dialect, rows)
    return changes, len(flat)


def _ids(todo: list[tuple[RuleInfo, Occurrence]], flat: list[Any]) -> list[int] | None:
    """Rule ids to narrow the read of stored rows to, when few results changed."""
    return sorted({i.id for i, _ in todo}) if len(todo) < min(1000, len(flat)) else None


def _upsert(session: Session, dialect: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` of many rows through the driver: the
    evaluation tick writes tens of thousands of rows, and SQLAlchemy's per-row parameter
    processing would cost more than the database (issue 5 benchmark). SQLite takes
    multi-row VALUES; PostgreSQL a COPY into a temporary table and one INSERT ... SELECT
    (psycopg parses placeholders in Python, so huge VALUES lists are slow there)."""
    if not rows:
        return
    names = ", ".join(_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in _KEYS)
    tail = (
        f" ON CONFLICT (rule_id, key) DO UPDATE SET {updates}"
        " WHERE task_occurrences.digest <> excluded.digest"
        " AND excluded.updated_ms >= task_occurrences.updated_ms"
        " AND (excluded.done_count >= task_occurrences.done_count"
        " OR excluded.state = 'excused')"
    )
    # only constant column names are interpolated; every value is a bound parameter
    connection = session.connection()
    if dialect == "postgresql":
        _copy_upsert(connection.connection.dbapi_connection, names, tail, rows)
        return
    one = "(" + ",".join(["?"] * len(_COLUMNS)) + ")"
    head = f"INSERT INTO task_occurrences ({names}) VALUES "  # noqa: S608
    for i in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[i : i + _ROWS_PER_INSERT]
        connection.exec_driver_sql(
            head + ",".join([one] * len(chunk)) + tail, tuple(chain.from_iterable(chunk))
        )


def _copy_upsert(raw: Any, names: str, tail: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: COPY the rows into a session-local table, upsert them in key order (a
    fixed lock order, so concurrent writers wait instead of deadlocking), empty it."""
    with raw.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS task_occurrences_in"
            " (LIKE task_occurrences INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY task_occurrences_in ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO task_occurrences ({names}) SELECT {names}"  # noqa: S608
            " FROM task_occurrences_in ORDER BY rule_id, key" + tail
        )
        cursor.execute("DELETE FROM task_occurrences_in")


def current_states(
    session: Session, pairs: Sequence[tuple[int, str]], days: Iterable[date], state: str
) -> dict[tuple[int, str], int]:
    """(rule id, key) -> occurrence id of those ``pairs`` stored in ``state`` now (after
    concurrent writers), on local ``days``: one query for the lot."""
    wanted = set(pairs)
    stmt = select(TaskOccurrence.rule_id, TaskOccurrence.key, TaskOccurrence.id).where(
        TaskOccurrence.day.in_(sorted(set(days))),
        TaskOccurrence.state.concat("") == state,  # not the state index: all history
    )
    rule_ids = {r for r, _ in wanted}
    if len(rule_ids) < 500:
        stmt = stmt.where(TaskOccurrence.rule_id.in_(sorted(rule_ids)))
    rows = session.connection().execute(stmt).all()
    return {(r, k): oid for r, k, oid in rows if (r, k) in wanted}
