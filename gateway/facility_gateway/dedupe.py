"""The shared dedupe store: event id -> claimed (owner, lease) | stored.

SQLAlchemy 2 Core on a SQLite file (WAL; several gateway processes of one machine
share it; every write transaction is ``BEGIN IMMEDIATE`` so claims are serialised)
or PostgreSQL (several machines; ``INSERT .. ON CONFLICT DO NOTHING`` plus
``SELECT .. FOR UPDATE`` in READ COMMITTED, ids in sorted order so two gateways lock
rows in the same order and cannot deadlock).

States (docs/architecture.md, "Delivery guarantee"):

- no record -> :meth:`DedupeStore.claim` inserts ``claimed`` and reports the id ``new``;
- ``stored`` -> reported ``stored`` (confirm again, do not write);
- ``claimed`` by someone else with a live lease -> ``busy`` (leave it; the edge resends);
- ``claimed`` with an expired lease, or by this owner -> taken over and reported
  ``in_doubt``: its writer may have died between write and confirmation, so the caller
  asks the point store before writing.

Lease times are the gateways' wall clocks in UTC epoch ms (keep them NTP-synced; the
lease should be many times the worst clock skew). A record's age is counted from its
claim (``updated_ms``; marking it stored does not touch that indexed column, which
keeps the index quiet); records older than the retention window are pruned by
:meth:`DedupeStore.prune`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    MetaData,
    Select,
    String,
    Table,
    bindparam,
    delete,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from facility_gateway.errors import DedupeUnavailable
from facility_gateway.sqlengine import make_engine

logger = logging.getLogger(__name__)

CLAIMED = "claimed"
STORED = "stored"
DAY_MS = 86_400_000


def wall_ms() -> int:
    """The wall clock as UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Claims:
    """Outcome of one :meth:`DedupeStore.claim`; every asked id is in exactly one set."""

    new: set[str] = field(default_factory=set)
    in_doubt: set[str] = field(default_factory=set)
    stored: set[str] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)
    #: For in-doubt ids: the point time (ns) recorded by the first claim, when known.
    times: dict[str, int] = field(default_factory=dict)

    @property
    def mine(self) -> set[str]:
        """Ids this owner now holds a claim on (new and in doubt)."""
        return self.new | self.in_doubt


class Record(NamedTuple):
    """One dedupe record as stored (for inspection and tests)."""

    state: str
    owner: str | None
    lease_until_ms: int | None
    updated_ms: int


class DedupeStore:
    """Claims and confirmations of event ids, shared by all gateways.

    Every operation passes its ids as ONE bound value (a JSON array read with
    ``json_each`` on SQLite, a ``text[]`` read with ``unnest`` on PostgreSQL), so a batch
    of thousands of ids costs one short statement, not thousands of parameters.

    Args:
        url: SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).
        table_prefix: prefix of the table name (one store per prefix).
        clock: wall clock in UTC epoch ms (injected in tests).
        busy_timeout_s: how long SQLite waits for another process's lock, s.
        synchronous: SQLite durability, ``NORMAL`` or ``FULL`` (see :func:`make_engine`).

    Raises:
        DedupeUnavailable: when the database cannot be reached to create the table.
    """

    def __init__(
        self,
        url: str,
        *,
        table_prefix: str = "gw_",
        clock: Callable[[], int] = wall_ms,
        busy_timeout_s: float = 30.0,
        synchronous: str = "NORMAL",
    ) -> None:
        self.engine = make_engine(url, busy_timeout_s, synchronous)
        self._clock = clock
        self._pg = self.engine.dialect.name == "postgresql"
        name = f"{table_prefix}event_dedupe"
        self.table = Table(
            name,
            MetaData(),
            Column("id", String(64), primary_key=True),
            Column("state", String(8), nullable=False),
            Column("owner", String(200)),
            Column("lease_until_ms", BigInteger),
            Column("updated_ms", BigInteger, nullable=False),
            Column("time_ns", BigInteger),
            Index(f"{name}_updated", "updated_ms"),
        )
        self._prepare()
        self._create()

    def _prepare(self) -> None:
        """Compile-once statements of :meth:`claim` (SQLAlchemy caches their SQL)."""
        t = self.table
        ids = self._ids()
        insert = postgresql.insert if self._pg else sqlite.insert
        rows = self._rows().subquery()
        source = select(
            rows.c.id,
            literal(CLAIMED),
            bindparam("owner"),
            bindparam("lease"),
            bindparam("now"),
            rows.c.time_ns,
        ).where(true())
        columns = ["id", "state", "owner", "lease_until_ms", "updated_ms", "time_ns"]
        self._claim_insert = (
            insert(t)
            .from_select(columns, source)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(t.c.id)
        )
        query = select(t.c.id, t.c.state, t.c.owner, t.c.lease_until_ms, t.c.time_ns).where(
            t.c.id.in_(ids)
        )
        self._claim_select = query.order_by(t.c.id).with_for_update() if self._pg else query
        self._take_over = (
            update(t)
            .where(t.c.id.in_(ids), t.c.state == CLAIMED)
            .values(
                owner=bindparam("owner"),
                lease_until_ms=bindparam("lease"),
                updated_ms=bindparam("now"),
            )
        )

    def _ids(self) -> Select[tuple[str]]:
        """A one-column SELECT of the ids bound as parameter ``ids``."""
        if self._pg:
            array = bindparam("ids", type_=postgresql.ARRAY(String))
            return select(func.unnest(array).label("value"))
        return select(func.json_each(bindparam("ids")).table_valued("value").c.value)

    def _rows(self) -> Select[tuple[str, int]]:
        """A SELECT of (id, time_ns) pairs bound as ``ids``/``times`` (PostgreSQL) or as
        one JSON object ``rows`` of id -> time_ns (SQLite: ``json_each`` gives them as
        key and value, with no ``json_extract`` per row)."""
        if self._pg:
            ids = func.unnest(bindparam("ids", type_=postgresql.ARRAY(String)))
            times = func.unnest(bindparam("times", type_=postgresql.ARRAY(BigInteger)))
            return select(ids.label("id"), times.label("time_ns"))
        pairs = func.json_each(bindparam("rows")).table_valued("key", "value")
        return select(pairs.c.key.label("id"), pairs.c.value.label("time_ns"))

    def _bind_rows(self, times: Mapping[str, int | None]) -> dict[str, object]:
        ordered = sorted(times)
        if self._pg:
            return {"ids": ordered, "times": [times[i] for i in ordered]}
        return {"rows": json.dumps({i: times[i] for i in ordered})}

    def _bind(self, ids: Iterable[str]) -> object:
        wanted = sorted(set(ids))
        return wanted if self._pg else json.dumps(wanted)

    def _create(self) -> None:
        for attempt in range(3):
            try:
                self.table.create(self.engine, checkfirst=True)
                return
            except SQLAlchemyError as exc:  # another process created it between check and create
                if attempt == 2:
                    raise DedupeUnavailable(f"cannot create {self.table.name}: {exc}") from exc
                time.sleep(0.1)

    @contextmanager
    def _tx(self, what: str) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except (DBAPIError, SQLAlchemyError) as exc:
            raise DedupeUnavailable(f"dedupe {what} failed: {exc}") from exc

    def claim(
        self,
        ids: Iterable[str],
        owner: str,
        lease_s: float,
        times: Mapping[str, int] | None = None,
    ) -> Claims:
        """Claim many ids in one transaction (see the module docstring for the outcomes).

        Args:
            ids: event ids (duplicates are fine).
            owner: this gateway's unique owner id.
            lease_s: how long the claims protect the ids, s.
            times: point time (ns) of each id, recorded with a new claim and returned in
                :attr:`Claims.times` for ids in doubt, so a point whose time the gateway
                estimated from its receive time is looked up (and rewritten) at the time
                it first had, not at a new estimate.

        Raises:
            DedupeUnavailable: the database is unreachable or stayed locked.
        """
        wanted = set(ids)
        out = Claims()
        if not wanted:
            return out
        now = self._clock()
        params = {"owner": owner, "lease": now + int(lease_s * 1000), "now": now}
        known: Mapping[str, int | None] = times or {}
        if known.keys() != wanted:
            known = {i: known.get(i) for i in wanted}
        rows = self._bind_rows(known)
        with self._tx("claim") as conn:
            # all(): one fetchall instead of a fetch per returned row
            out.new = set(conn.execute(self._claim_insert, {**rows, **params}).scalars().all())
            rest = wanted - out.new
            if rest:
                self._sort_rest(conn, rest, out, owner, now)
                if out.in_doubt:
                    conn.execute(self._take_over, {"ids": self._bind(out.in_doubt), **params})
        return out

    def _sort_rest(
        self, conn: Connection, rest: set[str], out: Claims, owner: str, now: int
    ) -> None:
        """Sort ids that already had a record into stored / in doubt / busy."""
        for row in conn.execute(self._claim_select, {"ids": self._bind(rest)}):
            if row.state == STORED:
                out.stored.add(row.id)
            elif row.owner == owner or (row.lease_until_ms or 0) <= now:
                out.in_doubt.add(row.id)
                if row.time_ns is not None:
                    out.times[row.id] = int(row.time_ns)
            else:
                out.busy.add(row.id)
        out.busy.update(rest - out.stored - out.in_doubt)  # released or pruned meanwhile

    def renew(self, ids: Iterable[str], owner: str, lease_s: float) -> int:
        """Extend this owner's claims on ``ids``; returns how many were still held.

        Raises:
            DedupeUnavailable: the database is unreachable.
        """
        now = self._clock()
        t = self.table
        stmt = update(t).where(t.c.id.in_(self._ids()), t.c.state == CLAIMED, t.c.owner == owner)
        with self._tx("renew") as conn:
            result = conn.execute(
                stmt.values(lease_until_ms=now + int(lease_s * 1000)),
                {"ids": self._bind(ids)},
            )
            return int(result.rowcount)

    def mark_stored(self, ids: Iterable[str]) -> None:
        """Mark ids stored (whoever claimed them; idempotent).

        Raises:
            DedupeUnavailable: the database is unreachable.
        """
        t = self.table
        stmt = (
            update(t)
            .where(t.c.id.in_(self._ids()))
            .values(state=STORED, owner=None, lease_until_ms=None)
        )
        with self._tx("mark_stored") as conn:
            conn.execute(stmt, {"ids": self._bind(ids)})

    def release(self, ids: Iterable[str], owner: str) -> None:
        """Drop this owner's claims on ids (nothing written; others may claim them now).

        Raises:
            DedupeUnavailable: the database is unreachable.
        """
        t = self.table
        stmt = delete(t).where(t.c.id.in_(self._ids()), t.c.state == CLAIMED, t.c.owner == owner)
        with self._tx("release") as conn:
            conn.execute(stmt, {"ids": self._bind(ids)})

    def prune(self, retention_days: float = 30.0, *, chunk: int = 5000) -> int:
        """Delete records (stored, or claims long abandoned) older than the window.

        Deletes in chunks of ``chunk`` rows, one short transaction each, so other
        gateways are not held up. Returns the number of records deleted.

        Raises:
            DedupeUnavailable: the database is unreachable.
        """
        cutoff = self._clock() - int(retention_days * DAY_MS)
        t, total = self.table, 0
        while True:
            with self._tx("prune") as conn:
                old = select(t.c.id).where(t.c.updated_ms < cutoff).limit(chunk)
                deleted = conn.execute(delete(t).where(t.c.id.in_(old))).rowcount
            total += deleted
            if deleted < chunk:
                return total

    def records(self, ids: Iterable[str]) -> dict[str, Record]:
        """The stored records of ``ids`` (missing ids are absent)."""
        t = self.table
        with self._tx("read") as conn:
            rows = conn.execute(select(t).where(t.c.id.in_(self._ids())), {"ids": self._bind(ids)})
            return {r.id: Record(r.state, r.owner, r.lease_until_ms, r.updated_ms) for r in rows}

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()
