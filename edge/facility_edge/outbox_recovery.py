"""Rebuild a corrupt SQLite outbox from what can still be read, keeping the damaged file.

SQLite reports damage as ``SQLITE_CORRUPT`` ("database disk image is malformed") or
``SQLITE_NOTADB`` ("file is not a database"); :func:`is_corrupt` recognises both, and
:class:`CheckFailed` (``PRAGMA integrity_check`` found problems at open, see
:func:`check_file`). :func:`salvage` then:

1. reads the damaged file read-only (``mode=ro``: it neither rolls back nor checkpoints,
   so the file and its ``-wal`` stay as found), table by table in rowid order; where a
   page cannot be read it looks for the next rowid it can seek to (doubling steps, then
   bisection: a few dozen queries per damaged page) and goes on from there, so only the
   rows on unreadable pages are lost (:func:`readable_rows`);
2. writes the rows it read, with their own ids, boots, seqs and order, into
   ``<outbox>.new`` (mode 0600) in ONE transaction whose last row is the marker
   ``state['outbox/recovered_from']`` = the name the damaged file gets;
3. moves the damaged file with its ``-wal`` and ``-shm`` aside as
   ``<outbox>.corrupt-<UTC yyyymmddThhmmssZ>`` (mode 0600), then ``<outbox>.new`` to
   ``<outbox>`` (renames in one folder, then the folder is fsynced).

A power cut during 1-2 leaves an unfinished ``.new`` (no marker): it is deleted and the
next start salvages again. A power cut during 3 leaves a finished ``.new``:
:func:`finish_interrupted` completes the renames at the next start. Events sent again
after a rebuild carry their old ids, so the gateway's dedupe stores each once; events on
unreadable pages are gaps in their boot's seq (visible to the server), and the current
boot goes on numbering from where it was, so no seq is used twice.

The SQLite project's own tool recovers more (``sqlite3 FILE .recover``, which reads
pages directly); it is not on every board, so a technician can run it on the file kept.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from facility_edge.errors import OutboxError
from facility_edge.outbox import OutboxUnusable, Recovery

logger = logging.getLogger(__name__)

#: SQLite primary result codes that mean a damaged file (sqlite.org/rescode.html).
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
SQLITE_INTERRUPT = 9
#: Result codes that a person must fix (permissions, read-only file system).
_PERSON_SQLITE = {3, 8, 14, 23}  # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_AUTH
#: errno values that a person must fix: restarting the agent does not help.
_PERSON_ERRNO = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST}
#: State key of the marker that ends a finished ``.new`` file (value: the aside name).
MARKER_KEY = "outbox/recovered_from"
#: Rows written per ``executemany`` while copying.
_CHUNK = 1000
#: Highest rowid probed when a table's largest rowid cannot be read.
_MAX_ROWID = 2**62
#: Files of one SQLite database: the file itself, then what SQLite keeps next to it.
_SUFFIXES = ("", "-wal", "-shm", "-journal")


class CheckFailed(sqlite3.DatabaseError):
    """``PRAGMA integrity_check`` reported problems (the first one is the message)."""


def text(data: bytes) -> str:
    """SQLite TEXT as str; bytes that are not UTF-8 (damage) become U+FFFD instead of
    failing the whole query (the connections' ``text_factory``)."""
    return data.decode("utf-8", "replace")


def is_corrupt(exc: BaseException) -> bool:
    """True when ``exc`` says the database file is damaged (not full, locked or read-only)."""
    if isinstance(exc, CheckFailed):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB)


def check_file(db: sqlite3.Connection, path: Path, budget_s: float) -> None:
    """Run ``PRAGMA integrity_check`` on ``db``, stopped after ``budget_s`` seconds (then
    a warning and no verdict: damage is found when the pages are read).

    ``integrity_check`` rather than ``quick_check``: it also finds index entries that no
    longer match their rows (an ack deleting by such an id would delete nothing, no
    error), and costs the same where it matters: reading 1,000,000 events (394 MB) from
    disk takes 5-6 s either way on the development machine (0.8 s against 0.3 s from the
    page cache).

    Raises:
        CheckFailed: problems found (the first one).
        sqlite3.Error: the check could not run (a damaged file raises is_corrupt errors).
    """
    deadline = time.monotonic() + budget_s
    db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        rows = db.execute("PRAGMA integrity_check(1)").fetchall()
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) != SQLITE_INTERRUPT:
            raise
        logger.warning(
            "outbox %s (%.0f MiB) not checked: integrity_check took over %.0f s; damage is "
            "repaired when it is read",
            path,
            path.stat().st_size / 2**20,
            budget_s,
        )
        return
    finally:
        db.set_progress_handler(None, 0)
    if rows != [("ok",)]:
        found = [line for r in rows for line in str(r[0]).splitlines() if "***" not in line]
        raise CheckFailed(f"integrity_check: {found[0] if found else rows}"[:200])


def outbox_error(message: str, exc: OSError | sqlite3.Error) -> OutboxError:
    """``message: <reason>`` as :class:`OutboxUnusable` when a person must act (permission,
    read-only file system, wrong kind of file), else as :class:`OutboxError`."""
    if isinstance(exc, OSError):
        person = exc.errno in _PERSON_ERRNO
        detail = exc.strerror or str(exc)
    else:
        code = getattr(exc, "sqlite_errorcode", None)
        person = isinstance(code, int) and code & 0xFF in _PERSON_SQLITE
        detail = str(exc)
    return (OutboxUnusable if person else OutboxError)(f"{message}: {detail}")


def sibling(path: Path, suffix: str) -> Path:
    """``path`` with ``suffix`` appended to its name (``outbox.sqlite3-wal``)."""
    return path.with_name(path.name + suffix)


def aside_path(path: Path, now: datetime | None = None) -> Path:
    """A free name for the damaged file: ``<name>.corrupt-<UTC yyyymmddThhmmssZ>[-n]``
    (``now``: an aware datetime, the current time by default)."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in itertools.count(1):
        candidate = sibling(path, f".corrupt-{stamp}" + (f"-{n}" if n > 1 else ""))
        if not any(sibling(candidate, s).exists() for s in _SUFFIXES):
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _probe(db: sqlite3.Connection, table: str, start: int) -> tuple[bool, int | None]:
    """Whether a seek to the first rowid >= ``start`` works, and the rowid it finds."""
    try:
        row = db.execute(
            f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1",  # noqa: S608
            (start,),
        ).fetchone()
    except sqlite3.DatabaseError:
        return False, None
    return True, None if row is None else int(row[0])


def next_readable(db: sqlite3.Connection, table: str, start: int, hi: int) -> int | None:
    """The first rowid >= ``start`` that a seek can reach past unreadable pages, or None
    when none is left up to ``hi``. Steps double from ``start`` until a seek works, then
    bisection finds the first start that works (seeks into a damaged page fail, seeks
    past it work), so only rows on damaged pages are skipped."""
    good, found = _probe(db, table, start)
    if good:
        return found
    bad, step = start, 1
    while True:
        probe = min(start + step, hi + 1)
        good, found = _probe(db, table, probe)
        if good:
            break
        if probe > hi:
            return None
        bad, step = probe, step * 2
    while probe - bad > 1:
        mid = (bad + probe) // 2
        ok, hit = _probe(db, table, mid)
        if ok:
            probe, found = mid, hit
        else:
            bad = mid
    return found


def _largest_rowid(db: sqlite3.Connection, table: str) -> int:
    """The table's largest rowid (its AUTOINCREMENT counter for ``events``), else 2**62."""
    queries = [f"SELECT max(rowid) FROM {table}"]  # noqa: S608
    if table == "events":
        queries.append("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
    for sql in queries:
        with contextlib.suppress(sqlite3.DatabaseError, TypeError, ValueError):
            row = db.execute(sql).fetchone()
            if row is not None and row[0] is not None:
                return int(row[0])
    return _MAX_ROWID


def readable_rows(db: sqlite3.Connection, table: str, columns: str) -> Iterator[tuple[object, ...]]:
    """``(rowid, *columns)`` of every row of ``table`` that can be read, in rowid order,
    skipping rows on pages that cannot (see :func:`next_readable`).

    A scan stops at the first unreadable page, and Python's sqlite3 reads one row ahead,
    so the row before the damage is lost with the scan; it is read again on its own.
    """
    hi = _largest_rowid(db, table)
    scan = f"SELECT rowid, {columns} FROM {table} WHERE rowid >= ? ORDER BY rowid"  # noqa: S608
    one = f"SELECT rowid, {columns} FROM {table} WHERE rowid = ?"  # noqa: S608
    after = 0  # the outbox's rowids start at 1
    while True:
        try:
            for row in db.execute(scan, (after + 1,)):
                after = int(row[0])
                yield tuple(row)
            return
        except sqlite3.DatabaseError:
            pass
        found = next_readable(db, table, after + 1, hi)
        if found is None:
            return
        with contextlib.suppress(sqlite3.DatabaseError):
            row = db.execute(one, (found,)).fetchone()
            if row is not None:
                yield tuple(row)
        after = found


def _event_ok(row: tuple[object, ...]) -> bool:
    """A row of ``events`` whose columns have their types and whose payload names its id."""
    _, event_id, device, boot, seq, payload = row
    if isinstance(payload, str):
        payload = payload.encode()
    return (
        isinstance(event_id, str)
        and isinstance(device, str)
        and isinstance(boot, str)
        and isinstance(seq, int)
        and isinstance(payload, bytes)
        and event_id.encode() in payload
    )


def _insert(db: sqlite3.Connection, sql: str, rows: Iterable[tuple[object, ...]]) -> int:
    """Insert ``rows`` in chunks; returns how many rows were stored."""
    before = db.total_changes
    it = iter(rows)
    while chunk := list(itertools.islice(it, _CHUNK)):
        db.executemany(sql, chunk)
    return db.total_changes - before


def _copy(src: sqlite3.Connection, new: Path, schema: str, marker: str) -> tuple[int, int]:
    """Copy the readable rows of ``src`` into the new file ``new`` (one transaction,
    marker last); returns (events, state entries) copied."""
    os.close(os.open(new, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    dst = sqlite3.connect(new, isolation_level=None)
    try:
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.execute("PRAGMA synchronous=FULL")
        dst.executescript(schema)
        dst.execute("BEGIN IMMEDIATE")
        events = _insert(
            dst,
            "INSERT OR IGNORE INTO events (pos, id, device, boot, seq, payload) "
            "VALUES (?,?,?,?,?,?)",
            (
                row
                for row in readable_rows(src, "events", "id, device, boot, seq, payload")
                if _event_ok(row)
            ),
        )
        state = _insert(
            dst,
            "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
            (
                row[1:]
                for row in readable_rows(src, "state", "key, value")
                if isinstance(row[1], str) and isinstance(row[2], str)
            ),
        )
        _insert(
            dst,
            "INSERT INTO rejected (id, payload, reason) VALUES (?, ?, ?)",
            (row[1:] for row in readable_rows(src, "rejected", "id, payload, reason")),
        )
        dst.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (MARKER_KEY, marker))
        dst.execute("COMMIT")
    finally:
        dst.close()
    return events, state


def _remove(path: Path) -> None:
    for suffix in _SUFFIXES:
        sibling(path, suffix).unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap(path: Path, new: Path, aside: Path) -> None:
    """Move ``path`` and its ``-wal``/``-shm``/``-journal`` to ``aside`` (mode 0600),
    then ``new`` to ``path``. Repeatable: files already moved are skipped."""
    for suffix in _SUFFIXES:
        src, dst = sibling(path, suffix), sibling(aside, suffix)
        if not src.exists():
            continue
        if dst.exists():
            raise OutboxError(f"cannot move {src} aside: {dst} exists")
        os.replace(src, dst)
        os.chmod(dst, 0o600)
    os.replace(new, path)
    _fsync_folder(path.parent)


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection: never rolls back, never checkpoints, never writes."""
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    db.text_factory = text
    return db


def _count(db: sqlite3.Connection) -> int | None:
    with contextlib.suppress(sqlite3.DatabaseError, TypeError, ValueError):
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    return None


def salvage(
    path: Path,
    schema: str,
    *,
    expected: int | None,
    reason: str,
    now: Callable[[], datetime] | None = None,
) -> tuple[Recovery, int]:
    """Replace the damaged outbox ``path`` by a fresh one with every row still readable.

    Args:
        path: the outbox file (closed by the caller, or open only read-only).
        schema: the outbox's ``CREATE TABLE`` script.
        expected: events the outbox held (its in-memory count); None: use SQLite's count
            of the damaged file when it can be read.
        reason: what revealed the damage (kept in the :class:`Recovery`).
        now: UTC clock for the aside name (tests).

    Returns:
        The :class:`Recovery` and the number of state entries salvaged.

    Raises:
        OutboxUnusable: the folder does not let the agent create or rename files.
        OutboxError: anything else failed (disk full, I/O error); the damaged file is
            left in place and the partial ``.new`` removed.
    """
    new = sibling(path, ".new")
    aside = aside_path(path, now() if now else None)
    try:
        _remove(new)
        src = _read_only(path)
        try:
            if expected is None:
                expected = _count(src)
            events, state = _copy(src, new, schema, aside.name)
        finally:
            src.close()
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            _remove(new)
        raise outbox_error(f"cannot rebuild the corrupt outbox {path}", exc) from exc
    try:
        _swap(path, new, aside)
    except OSError as exc:  # the finished .new stays: finish_interrupted completes it
        raise outbox_error(f"cannot move the corrupt outbox {path} aside", exc) from exc
    lost = expected - events if expected is not None and expected >= events else None
    return Recovery(kept_as=aside, salvaged=events, lost=lost, reason=reason), state


def _marker(new: Path) -> str | None:
    """The aside name a finished ``.new`` file records, or None (unfinished, unreadable)."""
    if sibling(new, "-journal").exists():  # a transaction was cut short: not finished
        return None
    try:
        db = _read_only(new)
        try:
            row = db.execute("SELECT value FROM state WHERE key = ?", (MARKER_KEY,)).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def finish_interrupted(path: Path) -> None:
    """Before opening ``path``: complete a rebuild that a power cut interrupted after its
    copy was finished, or delete an unfinished copy (the damage is found again then).

    Raises:
        OutboxUnusable, OutboxError: the files cannot be renamed or removed.
    """
    new = sibling(path, ".new")
    if not new.exists():
        return
    name = _marker(new)
    try:
        if name is None:
            logger.warning("outbox rebuild %s was not finished: removed (done again)", new)
            _remove(new)
            return
        _swap(path, new, path.with_name(name))
    except OSError as exc:
        raise outbox_error(f"cannot finish the outbox rebuild {new}", exc) from exc
    logger.error(
        "outbox %s: finished a rebuild interrupted by a stop; the corrupt file is kept as %s",
        path,
        name,
    )
