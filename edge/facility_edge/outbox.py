"""The outbox: events kept until the gateway confirms it stored them.

Delivery rules (``docs/architecture.md``, "Delivery guarantee"):

1. :meth:`Outbox.append` stores events **and** the reader state that produced them in
   one transaction: both or neither survive a crash.
2. :meth:`Outbox.pending` hands out events never sent by this process, or sent at least
   ``ack_timeout_ms`` ago (oldest first); the caller publishes them and calls
   :meth:`Outbox.mark_sent`. A broker PUBACK deletes nothing.
3. :meth:`Outbox.ack` deletes events the gateway confirmed (ids of events not in the
   outbox are ignored).
3a. :meth:`Outbox.known` tells which ids are stored: an event whose id comes from the
   device (a kiosk's session id, sent again by the kiosk) is stored once, because the
   recorder leaves out drafts whose id is already there (an append with a stored id
   still fails whole: for edge-made ids that is a bug, not a repeat).
4. The outbox holds at most ``max_events``; when an append would exceed it, the whole
   append is refused with :class:`~facility_edge.errors.OutboxFull` and nothing is
   deleted (the agent raises an alert in its status; door counter totals are
   cumulative, so refused crossings are counted by the next accepted batch).
5. A durable outbox that finds its file corrupt rebuilds itself from what it can still
   read (:mod:`facility_edge.outbox_recovery`) and reports each rebuild once through
   :meth:`Outbox.take_recoveries`; the agent turns it into an ``outbox_recovered`` notice.

Times given to the outbox (``now_ms``) are monotonic ms of the current process and
are kept in memory only (:class:`SentTimes`): a reopened outbox treats every stored
event as never sent.

Two implementations pass one shared test suite: :class:`MemoryOutbox` (here) and
:class:`~facility_edge.outbox_sqlite.SqliteOutbox` (durable).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from facility_contracts.envelope import (
    CheckIn,
    DeviceNotice,
    DoorCrossing,
    HealthReading,
    SatisfactionVote,
)

from facility_edge.errors import OutboxError, OutboxFull

#: Any contract event an edge agent records.
Event = DoorCrossing | DeviceNotice | CheckIn | SatisfactionVote | HealthReading


class OutboxUnusable(OutboxError):
    """The outbox cannot be opened (or rebuilt) and a person must act: its folder or file
    cannot be created, written or renamed (permissions, read-only file system, a file
    where the folder should be) or the folder is writable by other users. Restarting
    does not help, so ``run`` exits with code 2 when opening fails so (systemd does not
    restart it)."""


@dataclass(frozen=True, slots=True)
class Recovery:
    """A corrupt outbox file replaced by a fresh one holding what could still be read.

    Attributes:
        kept_as: the corrupt file, moved aside (its ``-wal``/``-shm`` next to it, same
            name plus suffix), mode 0600, kept for the technician.
        salvaged: events copied into the fresh outbox (same ids, boots and seqs).
        lost: events known lost (the outbox's count minus ``salvaged``); None when the
            count could not be read.
        reason: the SQLite error (or ``integrity_check`` finding) that revealed the damage.
    """

    kept_as: Path
    salvaged: int
    lost: int | None
    reason: str

    def summary(self) -> str:
        """One line for the log and the notice: file kept, events salvaged and lost."""
        lost = "an unknown number" if self.lost is None else str(self.lost)
        return (
            f"outbox corrupt ({self.reason[:80]}): kept as {self.kept_as.name}; "
            f"{self.salvaged} events salvaged, {lost} lost"
        )


class Outbox(Protocol):
    """A durable queue of events awaiting confirmation, plus reader state."""

    max_events: int
    ack_timeout_ms: int

    def append(self, events: Sequence[Event], state: Mapping[str, str]) -> None:
        """Store events and state entries (key -> text) in one transaction.

        Raises:
            OutboxFull: the events do not fit; nothing was stored.
            OutboxError: storage failed (duplicate id, disk full); nothing was stored.
        """
        ...

    def pending(self, n: int, now_ms: int) -> list[Event]:
        """Up to ``n`` events, oldest first, never sent or sent ``ack_timeout_ms`` ago or more."""
        ...

    def mark_sent(self, ids: Iterable[str], now_ms: int) -> None:
        """Record that these events were (re)sent at ``now_ms``."""
        ...

    def inflight(self, now_ms: int) -> int:
        """Events sent less than ``ack_timeout_ms`` ago and not yet confirmed."""
        ...

    def ack(self, ids: Iterable[str]) -> int:
        """Delete confirmed events; returns how many were deleted."""
        ...

    def known(self, ids: Iterable[str]) -> set[str]:
        """The ids among ``ids`` that are stored (sent or not, not yet confirmed)."""
        ...

    def reject(self, reasons: Mapping[str, str]) -> int:
        """Set aside events the gateway will never store (id -> reason): they leave the
        queue but are kept for inspection. Returns how many were set aside."""
        ...

    def depth(self) -> int:
        """Events stored (sent or not)."""
        ...

    def load_state(self, key: str) -> str | None:
        """The state saved under ``key``, or None."""
        ...

    def take_recoveries(self) -> list[Recovery]:
        """Rebuilds after corruption since the last call, oldest first (then forgotten)."""
        ...

    def close(self) -> None:
        """Release resources; the outbox is unusable afterwards."""
        ...


def check_room(depth: int, adding: int, max_events: int) -> None:
    """Raise :class:`OutboxFull` when ``adding`` events do not fit."""
    if depth + adding > max_events:
        raise OutboxFull(
            f"outbox full: {depth} of {max_events} events unconfirmed, {adding} more refused"
        )


class SentTimes:
    """When this process last sent each unconfirmed event (monotonic ms); not thread-safe.

    Kept in memory on purpose: a send time means nothing to another process, and
    keeping it out of the database saves one synchronous write per send. Its size stays
    near ``max_inflight`` because :meth:`Outbox.pending` re-sends the oldest first.

    Ids sent but not found in the outbox (acked meanwhile, or invisible to a damaged
    index) are kept apart for one ack timeout (:meth:`mark_unseen`): not due again, not
    counted in flight, then dropped.
    """

    def __init__(self, ack_timeout_ms: int) -> None:
        self.ack_timeout_ms = ack_timeout_ms
        self._sent: dict[str, int] = {}
        self._unseen: dict[str, int] = {}

    def due(self, event_id: str, now_ms: int) -> bool:
        """True when the event was never sent or its confirmation is overdue."""
        sent = self._sent.get(event_id, self._unseen.get(event_id))
        return sent is None or sent <= now_ms - self.ack_timeout_ms

    def mark(self, ids: Iterable[str], now_ms: int) -> None:
        for i in ids:
            self._sent[i] = now_ms

    def mark_unseen(self, ids: Iterable[str], now_ms: int) -> None:
        """Remember ids sent at ``now_ms`` that the outbox did not find (see class doc)."""
        due = now_ms - self.ack_timeout_ms
        self._unseen = {i: t for i, t in self._unseen.items() if t > due}
        self._unseen.update(dict.fromkeys(ids, now_ms))

    def forget(self, ids: Iterable[str]) -> None:
        for i in ids:
            self._sent.pop(i, None)
            self._unseen.pop(i, None)

    def inflight(self, now_ms: int) -> int:
        due = now_ms - self.ack_timeout_ms
        return sum(1 for sent in self._sent.values() if sent > due)


class MemoryOutbox:
    """An outbox in memory (tests, and boards without storage). Thread-safe.

    Args:
        max_events: most events kept.
        ack_timeout_ms: re-send unconfirmed events after this many ms.
    """

    def __init__(self, max_events: int = 1_000_000, ack_timeout_ms: int = 30_000) -> None:
        self.max_events = max_events
        self.ack_timeout_ms = ack_timeout_ms
        self._lock = threading.Lock()
        self._events: dict[str, Event] = {}
        self._sent = SentTimes(ack_timeout_ms)
        self._state: dict[str, str] = {}
        #: Events the gateway rejected for good: id -> reason.
        self.set_aside: dict[str, str] = {}

    def append(self, events: Sequence[Event], state: Mapping[str, str]) -> None:
        with self._lock:
            check_room(len(self._events), len(events), self.max_events)
            ids = [e.id for e in events]
            if len(set(ids)) != len(ids) or any(i in self._events for i in ids):
                raise OutboxError("duplicate event id")
            self._events.update((e.id, e) for e in events)
            self._state.update(state)

    def pending(self, n: int, now_ms: int) -> list[Event]:
        out: list[Event] = []
        with self._lock:
            for event_id, event in self._events.items():
                if len(out) >= n:
                    break
                if self._sent.due(event_id, now_ms):
                    out.append(event)
        return out

    def mark_sent(self, ids: Iterable[str], now_ms: int) -> None:
        with self._lock:
            self._sent.mark((i for i in ids if i in self._events), now_ms)

    def inflight(self, now_ms: int) -> int:
        with self._lock:
            return self._sent.inflight(now_ms)

    def ack(self, ids: Iterable[str]) -> int:
        wanted = set(ids)
        with self._lock:
            self._sent.forget(wanted)
            return sum(self._events.pop(i, None) is not None for i in wanted)

    def known(self, ids: Iterable[str]) -> set[str]:
        with self._lock:
            return {i for i in ids if i in self._events}

    def reject(self, reasons: Mapping[str, str]) -> int:
        with self._lock:
            self._sent.forget(set(reasons))
            moved = 0
            for event_id, reason in reasons.items():
                if self._events.pop(event_id, None) is not None:
                    self.set_aside[event_id] = reason
                    moved += 1
            return moved

    def depth(self) -> int:
        with self._lock:
            return len(self._events)

    def load_state(self, key: str) -> str | None:
        with self._lock:
            return self._state.get(key)

    def take_recoveries(self) -> list[Recovery]:
        """Memory is never corrupt: always empty."""
        return []

    def close(self) -> None:
        """Nothing to release."""
