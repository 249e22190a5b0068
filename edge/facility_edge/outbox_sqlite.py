"""The durable outbox: one SQLite file, WAL journal, ``synchronous=FULL``.

With ``journal_mode=WAL`` and ``synchronous=FULL`` every commit is fsynced to the WAL
before :meth:`SqliteOutbox.append` returns, so a SIGKILL or a power cut keeps either
the whole transaction (events + reader state) or none of it (SQLite documentation,
"Write-Ahead Logging" and "PRAGMA synchronous"). Event payloads are stored as the
contract's JSON (:func:`facility_contracts.codec.encode_event`, without ``sent``).

Tables: ``events`` (``pos`` = append order), ``state`` (key -> text) and
``rejected`` (stored payloads that no longer decode: kept for inspection, never sent).
Send times live in memory (:class:`~facility_edge.outbox.SentTimes`), so only appends
and acks write to the disk (one synchronous transaction each).

The file holds member pseudonyms and reading values until the gateway confirms them
(health data, PIPL art. 28 and 51): it is created mode 0600, and SQLite gives its
``-wal`` and ``-shm`` files the database file's mode (SQLite's unix VFS). An older
outbox (or ``-wal``/``-shm``) open to the group or others is tightened to 0600 with a
warning; a folder writable by others is refused (:func:`prepare_private`).

Damage (SQLite's "database disk image is malformed" or "file is not a database", or
``PRAGMA integrity_check`` at open, bounded by :data:`CHECK_BUDGET_S`) is repaired in place:
the file is rebuilt from its readable rows and kept aside
(:func:`facility_edge.outbox_recovery.salvage`), the operation that met it runs again on
the fresh file, and :meth:`SqliteOutbox.take_recoveries` reports the rebuild. At most one
rebuild per :data:`RECOVERY_GAP_S` (a failing disk would otherwise copy all day); in
between, damage raises :class:`~facility_edge.errors.OutboxError`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from facility_contracts import codec
from facility_contracts.errors import ContractError

from facility_edge.errors import OutboxError
from facility_edge.outbox import Event, OutboxUnusable, Recovery, SentTimes, check_room
from facility_edge.outbox_recovery import (
    check_file,
    finish_interrupted,
    is_corrupt,
    outbox_error,
    salvage,
    text,
)

logger = logging.getLogger(__name__)

#: SQLite page cache, KiB (the default is 2,000; the outbox reads mostly its head).
CACHE_KIB = 256
#: Mode of the outbox file and of its ``-wal`` and ``-shm``: the agent's user only.
FILE_MODE = 0o600
#: Most seconds ``PRAGMA integrity_check`` may take at open; a larger outbox is opened
#: unchecked (damage is then found when read). Measured: 1,000,000 events (394 MB) take
#: 0.8 s from the page cache and 5-6 s from disk on the development machine.
CHECK_BUDGET_S = 10.0
#: Least seconds between two rebuilds of a damaged outbox.
RECOVERY_GAP_S = 60.0

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    device TEXT NOT NULL,
    boot TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rejected (id TEXT, payload BLOB, reason TEXT);
"""


def prepare_private(path: Path) -> None:
    """Make ``path`` (created if missing) and its ``-wal``/``-shm`` mode 0600 before
    SQLite opens it, after checking its folder.

    Raises:
        OutboxUnusable: the folder is not a folder or is writable by other users (they
            could replace the outbox), or a file cannot be created or made 0600 for lack
            of permission or on a read-only file system.
        OutboxError: another failure (folder missing, disk full, I/O error).
    """
    try:
        folder = stat.S_IMODE(path.parent.stat().st_mode)
    except OSError as exc:
        raise outbox_error(f"outbox folder {path.parent}", exc) from exc
    if folder & stat.S_IWOTH:
        raise OutboxUnusable(
            f"outbox folder {path.parent} is writable by other users (mode {folder:04o}); "
            "chmod 0750 or 0700"
        )
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    except OSError as exc:
        raise outbox_error(f"cannot create outbox {path}", exc) from exc
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                os.chmod(file, FILE_MODE)
                logger.warning("outbox file %s was mode %04o: made %04o", file, mode, FILE_MODE)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise outbox_error(f"outbox file {file} cannot be made mode 0600", exc) from exc


class SqliteOutbox:
    """The outbox in a SQLite file. Thread-safe (one connection behind a lock).

    Args:
        path: the database file (its folder must exist, not writable by others).
        max_events: most events kept.
        ack_timeout_ms: re-send unconfirmed events after this many ms.
        check_budget_s: most seconds for ``PRAGMA integrity_check`` at open.

    Raises:
        OutboxUnusable: the folder or file cannot be used until a person fixes it
            (:func:`prepare_private`, SQLite cannot open or write the file, a damaged
            file cannot be moved aside).
        OutboxError: the file cannot be opened or rebuilt for another reason (disk
            full, I/O error, locked by another process).
    """

    def __init__(
        self,
        path: str | Path,
        max_events: int = 1_000_000,
        ack_timeout_ms: int = 30_000,
        *,
        check_budget_s: float = CHECK_BUDGET_S,
    ) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.ack_timeout_ms = ack_timeout_ms
        self.check_budget_s = check_budget_s
        self._lock = threading.Lock()
        self._sent = SentTimes(ack_timeout_ms)
        self._conn: sqlite3.Connection | None = None
        self._depth = 0
        self._recoveries: list[Recovery] = []
        self._recovered_at: float | None = None
        finish_interrupted(self.path)
        prepare_private(self.path)
        try:
            self._connect(check=True)
        except sqlite3.Error as exc:
            if not self._may_recover(exc):
                self._close_quietly()
                raise outbox_error(f"cannot open outbox {self.path}", exc) from exc
            try:
                self._rebuild(str(exc), expected=None)
            except OutboxError:
                self._close_quietly()
                raise
        logger.info("outbox %s opened: %d events waiting", self.path, self._depth)

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise sqlite3.ProgrammingError("the outbox is not open")
        return self._conn

    def _connect(self, check: bool) -> None:
        """Open the file (WAL, full sync, schema), check it when asked, count events."""
        self._close_quietly()
        self._conn = db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        db.text_factory = text  # damaged text reads as U+FFFD, not as an exception
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        if check:
            check_file(db, self.path, self.check_budget_s)
        db.executescript(_SCHEMA)
        self._depth = int(db.execute("SELECT count(*) FROM events").fetchone()[0])

    def _run(self, what: str, op: Callable[[], T]) -> T:
        """``op()`` (under the lock); when it meets damage, rebuild the file and run it
        once more.

        Raises:
            OutboxError: op failed (sqlite3 errors become OutboxError).
        """
        try:
            return op()
        except sqlite3.Error as exc:
            if not self._may_recover(exc):
                raise outbox_error(f"outbox {what} failed ({self.path})", exc) from exc
            reason = str(exc)
        self._rebuild(reason, self._depth)
        try:
            return op()
        except sqlite3.Error as exc:
            raise outbox_error(f"outbox {what} failed after a rebuild ({self.path})", exc) from exc

    def _may_recover(self, exc: sqlite3.Error) -> bool:
        last = self._recovered_at
        return is_corrupt(exc) and (last is None or time.monotonic() - last >= RECOVERY_GAP_S)

    def _rebuild(self, reason: str, expected: int | None) -> None:
        """Salvage the damaged file into a fresh one and reopen (see module doc)."""
        logger.warning(
            "outbox %s is damaged (%s): copying what can be read into a fresh outbox",
            self.path,
            reason,
        )
        self._recovered_at = time.monotonic()
        keeper = None  # held open so closing the writer neither checkpoints nor drops the WAL
        with contextlib.suppress(sqlite3.Error):
            keeper = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True)
            keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()
        self._close_quietly()
        try:
            recovery, state = salvage(self.path, _SCHEMA, expected=expected, reason=reason)
        except OutboxError:
            with contextlib.suppress(sqlite3.Error):
                self._connect(check=False)  # go on with the damaged file meanwhile
            raise
        finally:
            if keeper is not None:
                keeper.close()
        try:
            self._connect(check=False)
        except sqlite3.Error as exc:
            raise outbox_error(f"cannot open the rebuilt outbox {self.path}", exc) from exc
        self._recoveries.append(recovery)
        logger.error(
            "%s (%d reader state entries kept; events in a fresh %s, damaged file mode "
            "0600 kept for the technician: docs/deploy.md, 'Outbox damaged')",
            recovery.summary(),
            state,
            self.path.name,
        )

    def _close_quietly(self) -> None:
        db, self._conn = self._conn, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (rolled back when anything fails)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def append(self, events: Sequence[Event], state: Mapping[str, str]) -> None:
        rows = [(e.id, e.device, e.boot, e.seq, codec.encode_event(e)) for e in events]
        items = list(state.items())

        def write() -> None:
            with self._tx() as db:
                db.executemany(
                    "INSERT INTO events (id, device, boot, seq, payload) VALUES (?,?,?,?,?)", rows
                )
                db.executemany(
                    "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) "
                    "DO UPDATE SET value = excluded.value",
                    items,
                )

        with self._lock:
            check_room(self._depth, len(rows), self.max_events)
            self._run("write", write)
            self._depth += len(rows)

    def pending(self, n: int, now_ms: int) -> list[Event]:
        def read() -> tuple[list[Event], list[tuple[int, str, str]]]:
            out: list[Event] = []
            bad: list[tuple[int, str, str]] = []  # (pos, id, reason)
            cur = self._db.execute("SELECT pos, id, payload FROM events ORDER BY pos")
            try:
                for pos, event_id, payload in cur:
                    if len(out) >= n:
                        break
                    if not self._sent.due(event_id, now_ms):
                        continue
                    try:
                        event = codec.decode_event(payload)
                    except ContractError as exc:
                        bad.append((pos, event_id, str(exc)))
                        continue
                    if event.id != event_id:  # a damaged id column: acks could not find it
                        bad.append((pos, event_id, f"id column damaged (payload id {event.id})"))
                    else:
                        out.append(event)
            finally:
                cur.close()  # end the read at once: an open read would pin the WAL
            return out, bad

        with self._lock:
            out, bad = self._run("read", read)
            for pos, event_id, reason in bad:
                self._reject(pos, event_id, reason)
        return out

    def _reject(self, pos: int, event_id: str, reason: str) -> None:
        logger.error("outbox event %r unusable (%s): moved to 'rejected'", event_id, reason)

        def move() -> int:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO rejected SELECT id, payload, ? FROM events WHERE pos = ?",
                    (reason, pos),
                )
                return db.execute("DELETE FROM events WHERE pos = ?", (pos,)).rowcount

        moved = self._run("write", move)  # before the subtraction: a rebuild recounts
        self._depth -= moved

    def _stored(self, ids: Iterable[str]) -> list[str]:
        """The ids among ``ids`` that are in ``events`` (call under the lock)."""
        wanted = list(dict.fromkeys(ids))

        def read() -> list[str]:
            found: list[str] = []
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk)  # noqa: S608
                found.extend(r[0] for r in rows.fetchall())
            return found

        return self._run("read", read)

    def mark_sent(self, ids: Iterable[str], now_ms: int) -> None:
        """Record the sends. Ids not found (acked meanwhile: they must not linger in
        flight; or invisible to a damaged id index) are still not due again before the
        ack timeout, nor are all ids when the lookup fails: nothing is resent at once."""
        ids = list(ids)
        with self._lock:
            try:
                stored = self._stored(ids)
            except OutboxError:
                self._sent.mark(ids, now_ms)
                raise
            self._sent.mark(stored, now_ms)
            found = set(stored)
            self._sent.mark_unseen((i for i in ids if i not in found), now_ms)

    def inflight(self, now_ms: int) -> int:
        with self._lock:
            return self._sent.inflight(now_ms)

    def _delete(self, ids: Iterable[str], reasons: Mapping[str, str] | None = None) -> int:
        """Delete ``ids`` (into ``rejected`` with ``reasons``); send times are forgotten
        only after the delete, so a failed one re-sends nothing before the ack timeout."""
        wanted = list(ids)

        def delete() -> int:
            with self._tx() as db:
                if reasons is not None:
                    db.executemany(
                        "INSERT INTO rejected SELECT id, payload, ? FROM events WHERE id = ?",
                        [(reasons[i], i) for i in wanted],
                    )
                before = db.total_changes
                db.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in wanted])
                return db.total_changes - before

        deleted = self._run("delete", delete)
        self._sent.forget(wanted)
        self._depth -= deleted
        return deleted

    def ack(self, ids: Iterable[str]) -> int:
        wanted = set(ids)
        if not wanted:
            return 0
        with self._lock:
            return self._delete(wanted)

    def known(self, ids: Iterable[str]) -> set[str]:
        with self._lock:
            return set(self._stored(ids))

    def reject(self, reasons: Mapping[str, str]) -> int:
        if not reasons:
            return 0
        with self._lock:
            return self._delete(reasons, reasons)

    def depth(self) -> int:
        with self._lock:
            return self._depth

    def load_state(self, key: str) -> str | None:
        with self._lock:
            sql = "SELECT value FROM state WHERE key = ?"
            row = self._run("read", lambda: self._db.execute(sql, (key,)).fetchone())
        return None if row is None else str(row[0])

    def take_recoveries(self) -> list[Recovery]:
        with self._lock:
            out, self._recoveries = self._recoveries, []
        return out

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close."""
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:  # closing anyway; the WAL is replayed on open
                logger.warning("outbox checkpoint failed: %s", exc)
            self._close_quietly()
