"""A damaged SQLite outbox is rebuilt from its readable rows, the damaged file kept aside
as found and the rebuild reported once; failed writes never make events due again at
once; what a person must fix is told apart (exit 2) from what may pass (exit 1)."""

from __future__ import annotations

import errno
import random
import sqlite3
import stat
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from facility_edge import outbox_recovery
from facility_edge.agent import open_outbox
from facility_edge.errors import OutboxError
from facility_edge.outbox import OutboxUnusable
from facility_edge.outbox_sqlite import SqliteOutbox
from outbox_support import (
    TIMEOUT_MS,
    N,
    build,
    config,
    crossings,
    digest,
    events_leaf,
    flush_page_cache,
    garble_index_entry,
    only_aside,
    pending_all,
    refuse_deletes,
    root_page,
    smash,
    smash_page,
)


@pytest.fixture
def opened() -> Iterator[Callable[..., SqliteOutbox]]:
    """Open SQLite outboxes (closed at the end)."""
    made: list[SqliteOutbox] = []

    def make(path: Path, **kwargs: object) -> SqliteOutbox:
        box = SqliteOutbox(path, ack_timeout_ms=TIMEOUT_MS, **kwargs)  # type: ignore[arg-type]
        made.append(box)
        return box

    yield make
    for box in made:
        box.close()


# -- rebuilt at open ----------------------------------------------------------------------


def test_junk_in_an_events_page_keeps_every_other_event(
    tmp_path: Path, opened: Callable[..., SqliteOutbox]
) -> None:
    """Junk over one events page at open: the rows of the other pages are kept in order
    with their ids, boots and seqs; the damaged file is kept aside as found, mode 0600."""
    path = tmp_path / "data" / "outbox.sqlite3"
    events = build(path)
    page, rows_on_page = events_leaf(path)
    smash_page(path, page)
    damaged = digest(path)
    box = opened(path)
    kept = pending_all(box)
    (recovery,) = box.take_recoveries()
    assert len(kept) == N - rows_on_page and box.depth() == N - rows_on_page
    by_id = {e.id: e for e in events}
    assert all(by_id[e.id] == e for e in kept)  # same id, boot, seq, body
    assert [e.seq for e in kept] == sorted(e.seq for e in kept)  # same order
    assert (recovery.salvaged, recovery.lost) == (N - rows_on_page, rows_on_page)
    aside = only_aside(path.parent)
    assert recovery.kept_as == aside and digest(aside) == damaged
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert box.load_state("door_counter/dc-1") == '{"batch": 2000}'
    assert box.take_recoveries() == []  # reported once


def test_the_reviewed_damage_is_repaired_at_open(
    tmp_path: Path, opened: Callable[..., SqliteOutbox]
) -> None:
    """The review's damage (256 junk bytes at byte 300,000) is repaired at open: only
    rows of the page it hit can be lost, and acks of the rest apply."""
    path = tmp_path / "outbox.sqlite3"
    build(path)
    with sqlite3.connect(path) as db:
        (rows_on_page,) = db.execute(
            "SELECT ncell FROM dbstat WHERE pageno = ?", (300_000 // 4096 + 1,)
        ).fetchone()
    smash(path, 300_000, 256)
    box = opened(path)
    (recovery,) = box.take_recoveries()
    kept = pending_all(box)
    lost = recovery.lost
    assert lost is not None and 0 <= lost <= rows_on_page
    assert recovery.salvaged == len(kept) == N - lost
    assert box.ack(e.id for e in kept) == len(kept) and box.depth() == 0


def test_an_index_entry_that_no_longer_matches_is_found_at_open(
    tmp_path: Path, opened: Callable[..., SqliteOutbox]
) -> None:
    """One id changed in the id index only (structure intact: quick_check says ok, and
    an ack of that id would delete nothing) is found at open; nothing is lost."""
    path = tmp_path / "outbox.sqlite3"
    events = build(path)
    garble_index_entry(path, events[N // 2].id)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert db.execute("DELETE FROM events WHERE id = ?", (events[N // 2].id,)).rowcount == 0
        db.rollback()
    box = opened(path)
    (recovery,) = box.take_recoveries()  # at open, before any ack
    assert recovery.reason.startswith("integrity_check: ")
    assert (recovery.salvaged, recovery.lost) == (N, 0)
    assert box.ack(e.id for e in events) == N


@pytest.mark.parametrize("content", [b"random", b"text"])
def test_a_file_that_is_not_a_database_is_kept_aside(
    tmp_path: Path, opened: Callable[..., SqliteOutbox], content: bytes
) -> None:
    """Random bytes or text as the outbox: kept aside, a fresh outbox works, the number
    lost is unknown."""
    path = tmp_path / "outbox.sqlite3"
    data = random.Random(3).randbytes(50_000) if content == b"random" else b"not an outbox\n"
    path.write_bytes(data)
    path.chmod(0o600)
    box = opened(path)
    (recovery,) = box.take_recoveries()
    assert (recovery.salvaged, recovery.lost) == (0, None)
    assert recovery.reason == "file is not a database"
    assert only_aside(tmp_path).read_bytes() == data
    fresh = crossings(2, boot="boot-new")
    box.append(fresh, {})
    assert pending_all(box) == fresh


def test_damage_met_while_running_is_repaired_in_place(
    tmp_path: Path, opened: Callable[..., SqliteOutbox]
) -> None:
    """Damage that appears while the outbox is open is repaired by the operation that
    meets it, which then succeeds; lost = the count kept in memory minus salvaged."""
    path = tmp_path / "outbox.sqlite3"
    build(path)
    page, rows_on_page = events_leaf(path)
    box = opened(path)
    assert box.take_recoveries() == []
    smash_page(path, page)
    flush_page_cache(path)
    kept = pending_all(box)
    (recovery,) = box.take_recoveries()
    assert len(kept) == N - rows_on_page
    assert (recovery.salvaged, recovery.lost) == (N - rows_on_page, rows_on_page)
    assert box.ack(e.id for e in kept) == N - rows_on_page and box.depth() == 0


# -- interrupted rebuilds -----------------------------------------------------------------


def test_rebuild_stopped_after_its_copy_is_finished_at_the_next_start(
    tmp_path: Path, opened: Callable[..., SqliteOutbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild cut short after the copy (renames not done) is completed at the next
    start: the damaged file goes aside, the copy becomes the outbox."""
    path = tmp_path / "outbox.sqlite3"
    build(path)
    page, rows_on_page = events_leaf(path)
    smash_page(path, page)
    damaged = digest(path)

    def cut(*args: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with monkeypatch.context() as m:
        m.setattr(outbox_recovery, "_swap", cut)
        with pytest.raises(OutboxError, match="Input/output error"):
            SqliteOutbox(path)
    assert digest(path) == damaged and (tmp_path / "outbox.sqlite3.new").exists()
    box = opened(path)
    assert box.depth() == N - rows_on_page and not (tmp_path / "outbox.sqlite3.new").exists()
    assert digest(only_aside(tmp_path)) == damaged


def test_an_unfinished_rebuild_copy_is_discarded(
    tmp_path: Path, opened: Callable[..., SqliteOutbox]
) -> None:
    """A `.new` without the finished marker (a copy cut short) is deleted; the outbox
    opens as it was."""
    path = tmp_path / "outbox.sqlite3"
    build(path, 10)
    new = tmp_path / "outbox.sqlite3.new"
    with sqlite3.connect(new) as db:
        db.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    box = opened(path)
    assert box.depth() == 10 and not new.exists() and box.take_recoveries() == []


def test_a_damaged_outbox_that_cannot_be_moved_aside_is_unusable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No permission to rename in the folder: OutboxUnusable (a person must act), and
    the damaged file stays where it was."""
    path = tmp_path / "outbox.sqlite3"
    build(path, 50)
    smash_page(path, root_page(path, "events"))
    damaged = digest(path)

    def refuse(*args: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(outbox_recovery.os, "replace", refuse)
    with pytest.raises(OutboxUnusable, match="Permission denied"):
        SqliteOutbox(path)
    assert digest(path) == damaged


@pytest.mark.parametrize(
    ("exc", "unusable"),
    [
        (PermissionError(errno.EACCES, "Permission denied"), True),
        (OSError(errno.EROFS, "Read-only file system"), True),
        (FileExistsError(errno.EEXIST, "File exists"), True),
        (OSError(errno.ENOSPC, "No space left on device"), False),
        (OSError(errno.EIO, "Input/output error"), False),
    ],
)
def test_os_errors_a_person_must_fix_are_unusable(exc: OSError, unusable: bool) -> None:
    """Permission, read-only and wrong-kind errors need a person (exit 2); disk full and
    I/O errors may pass (exit 1, restarted)."""
    err = outbox_recovery.outbox_error("cannot create outbox /x", exc)
    assert isinstance(err, OutboxUnusable) is unusable
    assert str(err) == f"cannot create outbox /x: {exc.strerror}"


@pytest.mark.parametrize(("code", "unusable"), [(14, True), (8, True), (13, False), (10, False)])
def test_sqlite_errors_a_person_must_fix_are_unusable(code: int, unusable: bool) -> None:
    """SQLITE_CANTOPEN and SQLITE_READONLY need a person; SQLITE_FULL and SQLITE_IOERR not."""
    exc = sqlite3.OperationalError("reason")
    exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    assert isinstance(outbox_recovery.outbox_error("m", exc), OutboxUnusable) is unusable


def test_a_file_where_the_data_folder_should_be_is_unusable(tmp_path: Path) -> None:
    """agent.data_dir naming a file: OutboxUnusable naming the folder."""
    (tmp_path / "data").write_text("")
    with pytest.raises(OutboxUnusable, match=r"data folder .*data: File exists"):
        open_outbox(config(tmp_path / "data"))


# -- failed writes resend nothing early ----------------------------------------------------


def test_acks_that_cannot_be_applied_keep_the_send_times(
    tmp_path: Path, opened: Callable[..., SqliteOutbox]
) -> None:
    """An ack whose delete fails keeps the events' send times: nothing is due again
    before the ack timeout (no rebuild: the file is not damaged)."""
    path = tmp_path / "outbox.sqlite3"
    events = build(path, 20)
    refuse_deletes(path)
    box = opened(path)
    sent = box.pending(5, 0)
    box.mark_sent([e.id for e in sent], 0)
    with pytest.raises(OutboxError, match="simulated write failure"):
        box.ack([e.id for e in sent])
    assert box.pending(20, TIMEOUT_MS - 1) == events[5:]
    assert box.pending(20, TIMEOUT_MS) == events and box.depth() == 20
    assert box.take_recoveries() == []


def test_a_send_that_cannot_be_recorded_is_not_repeated(
    tmp_path: Path, opened: Callable[..., SqliteOutbox]
) -> None:
    """When the outbox cannot check which sent ids are still stored, mark_sent fails but
    still records the sends: they are not due again before the ack timeout."""
    path = tmp_path / "outbox.sqlite3"
    events = build(path, 20)
    box = opened(path)
    sent = box.pending(5, 0)
    deny = sqlite3.SQLITE_DENY
    box._db.set_authorizer(lambda action, table, *rest: deny if table == "events" else 0)
    with pytest.raises(OutboxError, match="prohibited"):
        box.mark_sent([e.id for e in sent], 0)
    box._db.set_authorizer(None)
    assert box.pending(20, TIMEOUT_MS - 1) == events[5:]


def test_an_event_the_id_index_cannot_find_is_not_sent_again_at_once(
    tmp_path: Path, opened: Callable[..., SqliteOutbox]
) -> None:
    """An id index entry damaged while running (still well formed): the event is read
    and sent, its send cannot be found by id, yet it is not due again before the ack
    timeout (a pump would otherwise resend it in a busy loop); it is not counted in
    flight."""
    path = tmp_path / "outbox.sqlite3"
    events = build(path, 20)
    box = opened(path)
    garble_index_entry(path, events[3].id)
    flush_page_cache(path)
    assert box.known([events[3].id]) == set()  # the index no longer finds it
    sent = box.pending(20, 0)
    assert sent == events
    box.mark_sent([e.id for e in sent], 0)
    assert box.pending(20, TIMEOUT_MS - 1) == [] and box.inflight(0) == 19
    assert box.pending(20, TIMEOUT_MS) == events


def test_the_name_of_the_file_kept_is_in_utc(tmp_path: Path) -> None:
    """The damaged file's name carries UTC time (08:03:04 in Hangzhou is 00:03:04Z) and
    never takes the name of a file already kept."""
    at = datetime(2026, 5, 10, 8, 3, 4, tzinfo=ZoneInfo("Asia/Shanghai"))
    path = tmp_path / "outbox.sqlite3"
    first = outbox_recovery.aside_path(path, at)
    assert first.name == "outbox.sqlite3.corrupt-20260510T000304Z"
    first.write_bytes(b"")
    assert outbox_recovery.aside_path(path, at).name == first.name + "-2"
