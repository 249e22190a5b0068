"""Store evaluated occurrences: write only what changed, never go back in time or progress.

Rows are upserted on the unique (rule, key) in batches (:mod:`.upsert`); the update
applies only when the result differs (``digest``), was evaluated at the same or a later
instant (``updated_ms``) and counts at least as many check-ins (``done_count``) unless it
is an excusal: so a process that evaluated on slightly older data cannot overwrite a
newer result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.compliance.engine import digest
from facility_server.compliance.load import RuleInfo
from facility_server.compliance.upsert import Upsert, upserter
from facility_server.compliance.views import Occurrence
from facility_server.models import TaskOccurrence

#: Occurrences per batch of :func:`write` (the benchmark's first tick: seven batches).
_ROWS_PER_BATCH = 10_000


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
    """The ``task_occurrences`` row of an evaluated occurrence, in the order of
    :data:`~facility_server.compliance.upsert.COLUMNS` (JSON columns as JSON text;
    ``day``: the local day, as ISO text for SQLite)."""
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

    ``results`` are taken a batch of about :data:`_ROWS_PER_BATCH` occurrences at a time
    and may be lazy: on PostgreSQL the rules of the next batch are evaluated while the
    server upserts the last one (issue 5 benchmark). Rows go in rule id order, the lock
    order of concurrent writers: a list is sorted, a lazy iterable must come in that
    order (as :func:`~facility_server.compliance.load.load_rules` gives the rules).

    Returns:
        (the changes, the number of occurrences evaluated).

    Raises:
        ValueError: a lazy ``results`` out of rule id order (nothing is committed here).
    """
    if isinstance(results, Sequence):
        results = sorted(results, key=lambda r: r[0].id)
    remembered: dict[tuple[int, str, str], Occurrence] = {}
    changes: list[Change] = []
    evaluated = 0
    read = _Before(session, rule_ids)
    with upserter(session) as upsert:
        for flat, last in _batches(results):
            evaluated += len(flat)
            todo = _todo(flat, memo, remembered)
            if todo:  # on PostgreSQL while the batch before goes in (unless read waits)
                prints = [digest(o) for _, o in todo]
                before = read(todo, len(flat), upsert)
                changes += _changed(upsert, todo, prints, before, now_ms, last)
    if memo is not None:
        memo.pending = remembered
    return changes, evaluated


def _batches(
    results: Iterable[tuple[RuleInfo, Sequence[Occurrence]]],
) -> Iterator[tuple[list[tuple[RuleInfo, Occurrence]], bool]]:
    """The non-pending occurrences of ``results`` in batches of whole rules, each with
    whether it is the last (one rule is read ahead to know)."""
    batch: list[tuple[RuleInfo, Occurrence]] = []
    previous = 0
    for info, occs in results:
        if info.id < previous:
            raise ValueError(f"results out of rule id order: rule {info.id} after {previous}")
        previous = info.id
        if len(batch) >= _ROWS_PER_BATCH:
            yield batch, False
            batch = []
        batch.extend((info, o) for o in occs if o.state != "pending")
    yield batch, True


def _todo(
    flat: list[tuple[RuleInfo, Occurrence]],
    memo: Memo | None,
    remembered: dict[tuple[int, str, str], Occurrence],
) -> list[tuple[RuleInfo, Occurrence]]:
    """The results of ``flat`` the memo does not know as they are (all without a memo);
    each goes into ``remembered``."""
    if memo is None:
        return flat
    keys = [(i.id, i.version, o.window.key) for i, o in flat]
    remembered.update(zip(keys, (o for _, o in flat), strict=True))
    seen = memo.seen
    if not seen:
        return flat
    return [item for k, item in zip(keys, flat, strict=True) if seen.get(k) != item[1]]


def _changed(
    upsert: Upsert,
    todo: list[tuple[RuleInfo, Occurrence]],
    prints: list[str],
    before: dict[tuple[int, str], tuple[str, str]],
    now_ms: int,
    last: bool,
) -> list[Change]:
    """Send to ``upsert`` the rows of the results of ``todo`` (digests ``prints``) that
    differ from ``before`` ((rule id, key) -> (digest, state)); return them as changes."""
    as_text = upsert.dates_as_text
    day_of: dict[date, date | str] = {}
    rows, changes = [], []
    for (info, occ), fingerprint in zip(todo, prints, strict=True):
        old = before.get((info.id, occ.window.key)) if before else None
        if old is not None and old[0] == fingerprint:
            continue
        day = occ.window.day
        text = day_of.get(day)
        if text is None:
            text = day_of[day] = day.isoformat() if as_text else day
        rows.append(row_of(info, occ, now_ms, fingerprint, text))
        changes.append(Change(info, occ, None if old is None else old[1]))
    upsert.send(rows, last)
    return changes


class _Before:
    """What is stored of the results of a batch: (rule id, key) -> (digest, state)."""

    def __init__(self, session: Session, rule_ids: Sequence[int] | None) -> None:
        self.session, self.rule_ids = session, rule_ids
        self.rows: dict[tuple[int, str], tuple[str, str]] = {}
        self.days: set[date] = set()  # read for every rule into ``rows``

    def __call__(
        self, todo: list[tuple[RuleInfo, Occurrence]], evaluated: int, upsert: Upsert
    ) -> dict[tuple[int, str], tuple[str, str]]:
        """Of the rules the writer was given, or of ``todo``'s rules when few of the
        ``evaluated`` results changed, or else of every rule, each day read once (the
        first tick of a day reads once: later batches need not wait for the one before
        to read). A read waits for ``upsert``'s batches: the connection is free then."""
        days = {o.window.day for _, o in todo}
        if self.rule_ids is not None or len(todo) < min(1000, evaluated):
            upsert.wait()
            return stored(self.session, days, self.rule_ids or sorted({i.id for i, _ in todo}))
        if days - self.days:
            upsert.wait()
            self.rows.update(stored(self.session, days - self.days))
            self.days |= days
        return self.rows


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
