"""Intake: decode on the MQTT network thread, then a bounded queue to the worker.

The MQTT library's thread calls :meth:`Intake.handle` once per message. It does the
least that lets the worker batch: parse the topic (cached), decode the payload with
:mod:`facility_contracts.codec`, and append to :class:`IntakeQueue`. When the queue is
full the message is dropped *without* decoding and counted as ``shed``: nothing
confirms it, so the edge sends it again later. Memory therefore stays bounded while the
point store is down.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import Generic, NamedTuple, TypeVar

from facility_contracts.codec import decode_event, decode_status
from facility_contracts.envelope import Event, Status
from facility_contracts.errors import ContractError
from facility_contracts.topics import Topic, parse_topic

from facility_gateway.stats import Stats

logger = logging.getLogger(__name__)

#: Parsed topics cached before the cache is cleared (one entry per device and channel).
TOPIC_CACHE_MAX = 100_000
#: At most one warning per rejection reason per this many seconds; the rest go to DEBUG.
REJECT_LOG_INTERVAL_S = 5.0
#: A rejected payload larger than this is not parsed to find its id for the log, bytes.
ID_PEEK_MAX_BYTES = 65536


class Inbound(NamedTuple):
    """One decoded message waiting for the worker.

    Attributes:
        topic: where it arrived (site, device, channel).
        message: the decoded event or status.
        received_ms: gateway clock when it arrived, UTC epoch ms.
        dup: the MQTT DUP flag (a broker redelivery).
    """

    topic: Topic
    message: Event | Status
    received_ms: int
    dup: bool


T = TypeVar("T")


class IntakeQueue(Generic[T]):
    """A bounded FIFO for one producer thread and one consumer thread.

    Args:
        bound: most items held; :meth:`offer` refuses beyond it.
    """

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._items: deque[T] = deque()
        self._wake = threading.Event()
        self._waiting = False
        self._want = 1
        self.high_water = 0

    def __len__(self) -> int:
        return len(self._items)

    def full(self) -> bool:
        """True when :meth:`offer` would refuse."""
        return len(self._items) >= self.bound

    def offer(self, item: T) -> bool:
        """Append ``item`` unless the queue is full; returns whether it was taken.

        Wakes a waiting consumer only when it waits for a first item or when its batch
        can now be filled, and only once per wait: waking it per message would cost a
        thread switch each, and until the woken consumer gets the GIL (up to the
        interpreter's switch interval) every further offer would set the event again.
        """
        items = self._items
        if len(items) >= self.bound:
            return False
        items.append(item)
        if self._waiting and len(items) >= self._want:
            self._waiting = False
            self._wake.set()
        return True

    def _wait(self, timeout: float, want: int) -> None:
        self._want = want
        self._waiting = True
        if len(self._items) < want:  # re-check after announcing, so no wake-up is lost
            self._wake.wait(timeout)
        self._wake.clear()
        self._waiting = False

    def take(
        self, max_items: int, max_wait_s: float, idle_s: float = 0.5, quiet_s: float = 0.0
    ) -> list[T]:
        """Take up to ``max_items``: waits up to ``idle_s`` for a first item, then up
        to ``max_wait_s`` after it for the batch to fill, but (``quiet_s`` > 0) no longer
        than ``quiet_s`` after the last arrival: when the stream pauses, say at the end of
        a burst, the batch in hand goes now. May return an empty list."""
        batch: list[T] = []
        deadline = time.monotonic() + idle_s
        started = False
        last = 0.0
        items = self._items
        while True:
            self.high_water = max(self.high_water, len(items))
            n = min(len(items), max_items - len(batch))
            batch.extend(items.popleft() for _ in range(n))
            if len(batch) >= max_items:
                return batch
            now = time.monotonic()
            if n:
                last = now
            if batch and not started:
                started = True
                deadline = now + max_wait_s
            left = deadline - now
            if started and quiet_s > 0:
                left = min(left, last + quiet_s - now)
            if left <= 0:
                return batch
            self._wait(left, max_items - len(batch) if batch else 1)

    def clear(self) -> int:
        """Drop everything queued; returns how many items were dropped."""
        n = len(self._items)
        self._items.clear()
        return n


class Intake:
    """Decode-and-enqueue, called on the MQTT network thread.

    Args:
        queue: where decoded messages go.
        stats: counters (``shed``, ``redelivered``, ``rejected``).
    """

    def __init__(self, queue: IntakeQueue[Inbound], stats: Stats) -> None:
        self.queue = queue
        self.stats = stats
        self.closed = False
        self._topics: dict[str, Topic] = {}
        self._last_warning: dict[str, float] = {}

    def handle(self, topic: str, payload: bytes, dup: bool, received_ms: int = 0) -> None:
        """Handle one MQTT message; never raises for a bad message.

        ``received_ms`` (UTC epoch ms) is when it arrived, when measured elsewhere
        (the MQTT process of a split gateway); 0 means now.
        """
        if self.closed:
            return
        if self.queue.full():
            self.stats.add(shed=1)
            return
        received_ms = received_ms or time.time_ns() // 1_000_000
        parsed = self._topics.get(topic)
        try:
            if parsed is None:
                parsed = self._parse(topic)
            if parsed.channel == "evt":
                message: Event | Status = decode_event(payload)
            elif parsed.channel == "status":
                message = decode_status(payload)
            else:
                return
        except ContractError as exc:
            self.reject(exc, topic, payload)
            return
        if dup:
            self.stats.add(redelivered=1)
        if not self.queue.offer(Inbound(parsed, message, received_ms, dup)):
            self.stats.add(shed=1)

    def _parse(self, topic: str) -> Topic:
        parsed = parse_topic(topic)
        if len(self._topics) >= TOPIC_CACHE_MAX:
            self._topics.clear()
        self._topics[topic] = parsed
        return parsed

    def reject(
        self,
        exc: ContractError,
        topic: str,
        payload: bytes | None = None,
        event_id: str | None = None,
    ) -> None:
        """Count a rejection by reason and log it (at most one warning per reason
        every few seconds, the rest at DEBUG)."""
        self.stats.reject(exc.reason)
        now = time.monotonic()
        level = logging.DEBUG
        if now - self._last_warning.get(exc.reason, -1e9) >= REJECT_LOG_INTERVAL_S:
            self._last_warning[exc.reason] = now
            level = logging.WARNING
        if not logger.isEnabledFor(level):
            return
        if event_id is None and payload is not None:
            event_id = payload_id(payload)
        # the pipeline's rejections (after decoding) name the event; no payload is at hand
        shown = "" if payload is None else f"; payload {payload[:80]!r}"
        logger.log(
            level, "rejected message on %s (event %s): %s%s", topic, event_id or "?", exc, shown
        )


def payload_id(payload: bytes) -> str | None:
    """The ``id`` of a rejected payload, for the log: when it is a JSON object whose
    ``id`` is a string (at most 64 characters, ``repr`` when not printable); else None."""
    if len(payload) > ID_PEEK_MAX_BYTES:
        return None
    try:
        doc = json.loads(payload)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None
    ident = doc.get("id") if isinstance(doc, dict) else None
    if not isinstance(ident, str) or not ident:
        return None
    ident = ident[:64]
    return ident if ident.isprintable() else repr(ident)
