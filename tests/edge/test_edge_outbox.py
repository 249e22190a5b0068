"""The outbox: one suite for the memory and SQLite implementations, plus durability."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from facility_contracts.envelope import DoorCrossing, DoorCrossingBody
from facility_edge.agent import open_outbox
from facility_edge.config import parse_config
from facility_edge.errors import OutboxError, OutboxFull
from facility_edge.outbox import MemoryOutbox, Outbox
from facility_edge.outbox_sqlite import SqliteOutbox

TIMEOUT = 5_000  # ms


def event(seq: int, boot: str = "boot-aaaa", device: str = "dc-1") -> DoorCrossing:
    return DoorCrossing(
        id=f"ev-{uuid.uuid4()}",
        device=device,
        boot=boot,
        seq=seq,
        ts=1_800_000_000_000 + seq,
        mono=seq,
        synced=True,
        body=DoorCrossingBody(in_=seq % 7, out=1, space="hall"),
    )


Factory = Callable[..., Outbox]


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Build outboxes of one implementation (closed at the end)."""
    made: list[Outbox] = []

    def factory(max_events: int = 1000) -> Outbox:
        if request.param == "memory":
            box: Outbox = MemoryOutbox(max_events, TIMEOUT)
        else:
            box = SqliteOutbox(tmp_path / "outbox.sqlite3", max_events, TIMEOUT)
        made.append(box)
        return box

    yield factory
    for box in made:
        box.close()


def ids(events: list[object]) -> list[str]:
    return [e.id for e in events]  # type: ignore[attr-defined]


def test_pending_returns_appended_events_in_order(make: Factory) -> None:
    """Appended events come back oldest first, equal to what went in, and count in depth."""
    box = make()
    evs = [event(i) for i in range(1, 6)]
    box.append(evs[:2], {})
    box.append(evs[2:], {})
    assert box.pending(10, 0) == evs and box.depth() == 5
    assert box.pending(2, 0) == evs[:2] and box.pending(0, 0) == []


def test_sent_events_wait_for_the_ack_timeout(make: Factory) -> None:
    """A sent event is not pending until ack_timeout later, then it is (same id)."""
    box = make()
    evs = [event(1), event(2)]
    box.append(evs, {})
    box.mark_sent([evs[0].id], 1000)
    assert ids(box.pending(10, 1000)) == [evs[1].id] and box.inflight(1000) == 1
    assert ids(box.pending(10, 1000 + TIMEOUT - 1)) == [evs[1].id]
    assert ids(box.pending(10, 1000 + TIMEOUT)) == ids(evs) and box.inflight(1000 + TIMEOUT) == 0


def test_ack_deletes_only_confirmed_ids(make: Factory) -> None:
    """ack() deletes the given ids, ignores unknown ones and returns how many it deleted."""
    box = make()
    evs = [event(i) for i in range(1, 4)]
    box.append(evs, {})
    box.mark_sent(ids(evs), 0)
    assert box.ack([evs[1].id, "ev-not-there", evs[1].id]) == 1
    assert box.depth() == 2 and box.inflight(0) == 2
    assert ids(box.pending(10, TIMEOUT)) == [evs[0].id, evs[2].id]


def test_reject_sets_events_aside_and_out_of_the_queue(make: Factory) -> None:
    """Ids the gateway rejects for good leave the queue (never sent again) and are set aside."""
    box = make()
    evs = [event(i) for i in range(1, 4)]
    box.append(evs, {})
    box.mark_sent(ids(evs), 0)
    assert box.reject({evs[0].id: "ts_in_future", "ev-not-there": "device_mismatch"}) == 1
    assert box.depth() == 2 and box.inflight(0) == 2
    assert ids(box.pending(10, TIMEOUT)) == [evs[1].id, evs[2].id]


def test_mark_sent_ignores_unknown_ids(make: Factory) -> None:
    """Marking ids that are not in the outbox (already acked) changes nothing."""
    box = make()
    box.append([event(1)], {})
    box.mark_sent(["ev-gone-0000"], 0)
    assert box.inflight(0) == 0 and len(box.pending(10, 0)) == 1


def test_state_is_saved_with_events(make: Factory) -> None:
    """State entries are saved, overwritten by later appends, and None when absent."""
    box = make()
    assert box.load_state("door_counter/dc-1") is None
    box.append([event(1)], {"door_counter/dc-1": "A"})
    box.append([], {"door_counter/dc-1": "B", "other": "C"})
    assert box.load_state("door_counter/dc-1") == "B" and box.load_state("other") == "C"


def test_failed_append_stores_nothing(make: Factory) -> None:
    """An append with a duplicate id fails whole: neither its events nor its state are stored."""
    box = make()
    first = event(1)
    box.append([first], {"k": "old"})
    with pytest.raises(OutboxError):
        box.append([event(2), first], {"k": "new"})
    assert box.depth() == 1 and box.load_state("k") == "old"


def test_known_names_the_stored_ids(make: Factory) -> None:
    """known() returns the given ids that are stored; acked and unknown ids are not."""
    box = make()
    evs = [event(i) for i in range(1, 4)]
    box.append(evs, {})
    box.ack([evs[0].id])
    asked = [evs[0].id, evs[1].id, evs[2].id, evs[2].id, "ev-not-there"]
    assert box.known(asked) == {evs[1].id, evs[2].id}
    assert box.known([]) == set()


def test_full_outbox_refuses_and_keeps_everything(make: Factory) -> None:
    """At max_events an append is refused whole; nothing stored is deleted; acks make room."""
    box = make(max_events=3)
    kept = [event(1), event(2)]
    box.append(kept, {"k": "1"})
    with pytest.raises(OutboxFull):
        box.append([event(3), event(4)], {"k": "2"})
    assert box.pending(10, 0) == kept and box.load_state("k") == "1"
    box.ack([kept[0].id])
    box.append([event(3), event(4)], {"k": "2"})
    assert box.depth() == 3 and box.load_state("k") == "2"


def test_sqlite_reopen_keeps_events_and_forgets_send_times(tmp_path: Path) -> None:
    """A reopened SQLite outbox has the same events and state, all pending again."""
    path = tmp_path / "o.sqlite3"
    box = SqliteOutbox(path, 100, TIMEOUT)
    evs = [event(1, "boot-one"), event(2, "boot-one")]
    box.append(evs, {"k": "v"})
    box.mark_sent(ids(evs), 0)
    box.close()
    again = SqliteOutbox(path, 100, TIMEOUT)
    assert again.pending(10, 0) == evs and again.load_state("k") == "v" and again.depth() == 2
    again.close()


def test_sqlite_is_wal_with_full_sync(tmp_path: Path) -> None:
    """The SQLite outbox uses the WAL journal and synchronous=FULL (2)."""
    box = SqliteOutbox(tmp_path / "o.sqlite3")
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    box.close()


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask 022 (files 0644 unless the code asks otherwise), restored after."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(path: Path) -> dict[str, int]:
    """File name -> permission bits of the outbox and its -wal and -shm."""
    names = [path.name, f"{path.name}-wal", f"{path.name}-shm"]
    return {n: stat.S_IMODE((path.parent / n).stat().st_mode) for n in names}


@pytest.mark.usefixtures("open_umask")
def test_sqlite_files_are_readable_by_the_agent_only(tmp_path: Path) -> None:
    """The outbox file and its -wal and -shm (pseudonyms and readings until confirmed)
    are mode 0600 even under umask 022 (the review found 0644)."""
    path = tmp_path / "o.sqlite3"
    box = SqliteOutbox(path)
    box.append([event(1)], {})
    assert modes(path) == dict.fromkeys(modes(path), 0o600) and len(modes(path)) == 3
    box.close()


@pytest.mark.usefixtures("open_umask")
def test_sqlite_tightens_an_outbox_open_to_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An outbox left 0644 by an older agent is made 0600 with a warning on open."""
    path = tmp_path / "o.sqlite3"
    box = SqliteOutbox(path)
    evs = [event(1)]
    box.append(evs, {})
    box.close()
    path.chmod(0o644)
    again = SqliteOutbox(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and again.pending(10, 0) == evs
    assert f"outbox file {path} was mode 0644: made 0600" in caplog.text
    again.close()


def test_sqlite_refuses_a_folder_writable_by_others(tmp_path: Path) -> None:
    """A data folder writable by other users (they could replace the outbox) is refused,
    naming the folder and its mode; nothing is created in it."""
    folder = tmp_path / "var"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(
        OutboxError, match=f"outbox folder {folder} is writable by other users \\(mode 0777\\)"
    ):
        SqliteOutbox(folder / "o.sqlite3")
    assert list(folder.iterdir()) == []


@pytest.mark.usefixtures("open_umask")
def test_agent_creates_its_data_folder_private(tmp_path: Path) -> None:
    """The agent creates a missing data folder mode 0700 and the outbox in it 0600."""
    cfg = parse_config(
        {"agent": {"id": "edge-1", "site": "s", "data_dir": str(tmp_path / "data")},
         "mqtt": {"host": "127.0.0.1"}}
    )  # fmt: skip
    box = open_outbox(cfg)
    assert stat.S_IMODE(cfg.agent.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(cfg.outbox_path.stat().st_mode) == 0o600
    box.close()


def test_sqlite_undecodable_row_is_quarantined(tmp_path: Path) -> None:
    """A stored payload that no longer decodes is moved aside instead of blocking the queue."""
    path = tmp_path / "o.sqlite3"
    box = SqliteOutbox(path)
    good = [event(1), event(2)]
    box.append(good, {})
    box.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE events SET payload = ? WHERE id = ?", (b"{oops", good[0].id))
    box = SqliteOutbox(path)
    assert box.pending(10, 0) == [good[1]] and box.depth() == 1
    box.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id FROM rejected").fetchall() == [(good[0].id,)]


WRITER = textwrap.dedent("""
    import sys, uuid
    from facility_contracts.envelope import DoorCrossing, DoorCrossingBody
    from facility_edge.outbox_sqlite import SqliteOutbox
    box = SqliteOutbox(sys.argv[1])
    n = 0
    while True:
        n += 1
        evs = [DoorCrossing(id=str(uuid.uuid4()), device="dc-1", boot="b-kill", seq=3 * n + i,
                            ts=1_800_000_000_000, mono=0, synced=True,
                            body=DoorCrossingBody(in_=1, out=0, space="hall")) for i in range(3)]
        box.append(evs, {"batches": str(n)})
        print(n, flush=True)
""")


def test_sqlite_survives_sigkill_mid_write(tmp_path: Path) -> None:
    """A writer SIGKILLed mid-stream leaves every committed batch, its state, and nothing torn."""
    path = tmp_path / "o.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for _ in range(40):  # 40 batches confirmed, then kill while it keeps writing
        last_confirmed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    box = SqliteOutbox(path)
    batches = int(box.load_state("batches") or 0)
    assert batches >= last_confirmed
    assert box.depth() == 3 * batches  # events and state committed together
    assert len(box.pending(10**6, 0)) == 3 * batches
    box.close()
