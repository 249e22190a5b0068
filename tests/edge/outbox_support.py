"""Helpers for the damaged-outbox tests: real outbox files, and junk written into them
at known pages (found with SQLite's ``dbstat`` table)."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import uuid
from pathlib import Path

from facility_contracts.envelope import DoorCrossing, DoorCrossingBody
from facility_edge.config import EdgeConfig, parse_config
from facility_edge.outbox import Event
from facility_edge.outbox_sqlite import SqliteOutbox

SITE = "site-a"
N = 2240  # the review's outbox: 2,240 events waiting
TIMEOUT_MS = 2000


def crossings(n: int, boot: str = "boot-old") -> list[DoorCrossing]:
    """``n`` door crossings of one boot, seq 1..n; ids seeded, so files lay out alike."""
    rng = random.Random(f"{boot}-{n}")
    return [
        DoorCrossing(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            device="dc-1",
            boot=boot,
            seq=s,
            ts=1_800_000_000_000 + s,
            mono=s,
            synced=True,
            body=DoorCrossingBody(in_=s % 5, out=1, space="hall"),
        )
        for s in range(1, n + 1)
    ]


def build(path: Path, n: int = N) -> list[DoorCrossing]:
    """A real outbox file holding ``n`` events and a door counter state, checkpointed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    events = crossings(n)
    box = SqliteOutbox(path)
    for i in range(0, n, 500):
        box.append(events[i : i + 500], {"door_counter/dc-1": f'{{"batch": {i}}}'})
    box.close()  # checkpointed: every page is in the file itself, none in the WAL
    return events


def events_leaf(path: Path) -> tuple[int, int]:
    """(page number, rows on it) of a leaf page in the middle of the events table."""
    with sqlite3.connect(path) as db:
        leaves = db.execute(
            "SELECT pageno, ncell FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' "
            "ORDER BY pageno"
        ).fetchall()
    return leaves[len(leaves) // 2]


def root_page(path: Path, name: str) -> int:
    with sqlite3.connect(path) as db:
        sql = "SELECT rootpage FROM sqlite_master WHERE name = ?"
        return int(db.execute(sql, (name,)).fetchone()[0])


def smash(path: Path, offset: int, size: int = 4096) -> None:
    """Write ``size`` junk bytes (seeded) at ``offset`` of ``path``."""
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(random.Random(offset).randbytes(size))


def smash_page(path: Path, page: int) -> None:
    smash(path, (page - 1) * 4096)


def garble_index_entry(path: Path, event_id: str) -> None:
    """Change the last character of ``event_id`` in the id index only: the index stays
    well formed (quick_check says ok) but no longer finds that event."""
    target = event_id.encode()
    with sqlite3.connect(path) as db:
        sql = "SELECT pageno FROM dbstat WHERE name = 'sqlite_autoindex_events_1'"
        index_pages = {r[0] for r in db.execute(sql)}
    with path.open("r+b") as f:
        data = f.read()
        (at,) = [
            i
            for i in range(len(data))
            if data.startswith(target, i) and i // 4096 + 1 in index_pages
        ]
        last = at + len(target) - 1
        f.seek(last)
        f.write(b"0" if data[last] != ord("0") else b"1")


def flush_page_cache(path: Path) -> None:
    """Write through another connection: an open outbox then re-reads pages from disk."""
    with sqlite3.connect(path) as other:
        other.execute("INSERT INTO state VALUES (?, 'x')", (str(uuid.uuid4()),))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def only_aside(folder: Path) -> Path:
    """The one damaged file kept aside in ``folder`` (not its -wal/-shm)."""
    (kept,) = [
        p
        for p in folder.iterdir()
        if p.name.startswith("outbox.sqlite3.corrupt-") and not p.name.endswith(("-wal", "-shm"))
    ]
    return kept


def pending_all(box: SqliteOutbox) -> list[Event]:
    return box.pending(10**6, 0)


NO_DELETE = """CREATE TRIGGER no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END"""


def refuse_deletes(path: Path) -> None:
    """Make every delete from ``events`` fail (an ack that cannot be applied)."""
    with sqlite3.connect(path) as db:
        db.execute(NO_DELETE)


def config(data_dir: Path, port: int = 1, site: str = SITE) -> EdgeConfig:
    return parse_config(
        {
            "agent": {"id": "edge-1", "site": site, "data_dir": str(data_dir)},
            "mqtt": {"host": "127.0.0.1", "port": port, "keepalive_s": 5},
            "outbox": {"max_inflight": 50, "ack_timeout_s": TIMEOUT_MS / 1000},
            "heartbeat_s": 30,
            "devices": [],
        }
    )
