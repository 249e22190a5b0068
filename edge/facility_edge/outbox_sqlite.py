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
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from facility_contracts import codec
from facility_contracts.errors import ContractError

from facility_edge.errors import OutboxError
from facility_edge.outbox import Event, SentTimes, check_room

logger = logging.getLogger(__name__)

#: SQLite page cache, KiB (the default is 2,000; the outbox reads mostly its head).
CACHE_KIB = 256
#: Mode of the outbox file and of its ``-wal`` and ``-shm``: the agent's user only.
FILE_MODE = 0o600

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
        OutboxError: the folder is missing or writable by other users (they could
            replace the outbox), or a file cannot be created or made 0600.
    """
    try:
        folder = stat.S_IMODE(path.parent.stat().st_mode)
    except OSError as exc:
        raise OutboxError(f"outbox folder {path.parent}: {exc.strerror}") from exc
    if folder & stat.S_IWOTH:
        raise OutboxError(
            f"outbox folder {path.parent} is writable by other users (mode {folder:04o}); "
            "chmod 0750 or 0700"
        )
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    except OSError as exc:
        raise OutboxError(f"cannot create outbox {path}: {exc.strerror}") from exc
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                os.chmod(file, FILE_MODE)
                logger.warning("outbox file %s was mode %04o: made %04o", file, mode, FILE_MODE)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutboxError(
                f"outbox file {file} cannot be made mode 0600: {exc.strerror}"
            ) from exc


class SqliteOutbox:
    """The outbox in a SQLite file. Thread-safe (one connection behind a lock).

    Args:
        path: the database file (its folder must exist, not writable by others).
        max_events: most events kept.
        ack_timeout_ms: re-send unconfirmed events after this many ms.

    Raises:
        OutboxError: the file cannot be opened or is not an outbox, or its folder or
            mode is unsafe (:func:`prepare_private`).
    """

    def __init__(
        self, path: str | Path, max_events: int = 1_000_000, ack_timeout_ms: int = 30_000
    ) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.ack_timeout_ms = ack_timeout_ms
        self._lock = threading.Lock()
        self._sent = SentTimes(ack_timeout_ms)
        prepare_private(self.path)
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._db.executescript(_SCHEMA)
            self._depth = int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        logger.info("outbox %s opened: %d events waiting", self.path, self._depth)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; raises OutboxError (after a rollback) on failure."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox write failed ({self.path}): {exc}") from exc

    def append(self, events: Sequence[Event], state: Mapping[str, str]) -> None:
        rows = [(e.id, e.device, e.boot, e.seq, codec.encode_event(e)) for e in events]
        with self._lock:
            check_room(self._depth, len(rows), self.max_events)
            with self._tx() as db:
                db.executemany(
                    "INSERT INTO events (id, device, boot, seq, payload) VALUES (?,?,?,?,?)", rows
                )
                db.executemany(
                    "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) "
                    "DO UPDATE SET value = excluded.value",
                    list(state.items()),
                )
            self._depth += len(rows)

    def pending(self, n: int, now_ms: int) -> list[Event]:
        out: list[Event] = []
        bad: list[tuple[str, bytes, ContractError]] = []
        with self._lock:
            cur = self._db.execute("SELECT id, payload FROM events ORDER BY pos")
            try:
                for event_id, payload in cur:
                    if len(out) >= n:
                        break
                    if not self._sent.due(event_id, now_ms):
                        continue
                    try:
                        out.append(codec.decode_event(payload))
                    except ContractError as exc:
                        bad.append((event_id, payload, exc))
            finally:
                cur.close()  # end the read at once: an open read would pin the WAL
            for event_id, payload, error in bad:
                self._reject(event_id, payload, error)
        return out

    def _reject(self, event_id: str, payload: bytes, exc: ContractError) -> None:
        logger.error("outbox event %s no longer decodes (%s): moved to 'rejected'", event_id, exc)
        with self._tx() as db:
            db.execute("INSERT INTO rejected VALUES (?, ?, ?)", (event_id, payload, str(exc)))
            db.execute("DELETE FROM events WHERE id = ?", (event_id,))
        self._depth -= 1

    def _stored(self, ids: Iterable[str]) -> list[str]:
        """The ids among ``ids`` that are in ``events`` (call under the lock)."""
        wanted = list(dict.fromkeys(ids))
        found: list[str] = []
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk)  # noqa: S608
            found.extend(r[0] for r in rows.fetchall())
        return found

    def mark_sent(self, ids: Iterable[str], now_ms: int) -> None:
        with self._lock:  # ids acked meanwhile must not linger
            self._sent.mark(self._stored(ids), now_ms)

    def inflight(self, now_ms: int) -> int:
        with self._lock:
            return self._sent.inflight(now_ms)

    def ack(self, ids: Iterable[str]) -> int:
        wanted = set(ids)
        if not wanted:
            return 0
        with self._lock:
            self._sent.forget(wanted)
            before = self._db.total_changes
            with self._tx() as db:
                db.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in wanted])
            deleted = self._db.total_changes - before
            self._depth -= deleted
            return deleted

    def known(self, ids: Iterable[str]) -> set[str]:
        with self._lock:
            return set(self._stored(ids))

    def reject(self, reasons: Mapping[str, str]) -> int:
        if not reasons:
            return 0
        with self._lock:
            self._sent.forget(set(reasons))
            before = self._db.total_changes
            with self._tx() as db:
                rows = [(reason, i) for i, reason in reasons.items()]
                db.executemany(
                    "INSERT INTO rejected SELECT id, payload, ? FROM events WHERE id = ?", rows
                )
                db.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in reasons])
            moved = (self._db.total_changes - before) // 2
            self._depth -= moved
            return moved

    def depth(self) -> int:
        with self._lock:
            return self._depth

    def load_state(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:  # closing anyway; the WAL is replayed on open
                logger.warning("outbox checkpoint failed: %s", exc)
            self._db.close()
