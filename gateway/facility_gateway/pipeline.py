"""The worker: batch, dedupe, write, mark stored, confirm (docs/architecture.md, step 3).

One batch at a time, on one thread:

1. map every message to its point (rejections counted by reason);
2. claim the event ids in the dedupe store, in one transaction;
3. ids already ``stored`` are confirmed again without writing; ids ``busy`` (claimed by
   another live gateway) are left alone; ids ``in_doubt`` are looked up with
   ``existing()`` and written only when missing;
4. write the points in one request; on :class:`StoreUnavailable` retry the *same*
   batch with exponential backoff, renewing the claims, never dropping it; on
   :class:`StoreRejected` split the batch in halves to isolate the refused point;
5. mark the ids stored, then publish the ids on ``facility/v1/{site}/{device}/ack``
   (QoS 1), grouped per device.

A crash anywhere before step 5 leaves nothing confirmed, so the edge sends again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeVar

from facility_contracts.codec import encode_ack
from facility_contracts.errors import ContractError
from facility_contracts.topics import ack_topic

from facility_gateway.dedupe import DedupeStore, wall_ms
from facility_gateway.errors import DedupeUnavailable, StoreRejected, StoreUnavailable
from facility_gateway.faults import FaultHook
from facility_gateway.intake import Inbound, Intake, IntakeQueue
from facility_gateway.mapping import DEFAULT_RULES, TimeRules, event_point, status_point
from facility_gateway.points import Point
from facility_gateway.stats import Stats
from facility_gateway.writer import PointWriter

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: Most ids in one confirmation (the contract's limit for :class:`Ack`).
ACK_MAX_IDS = 5000
AckPublisher = Callable[[str, bytes], None]


class BatchAbandoned(Exception):
    """Stop was requested while the store stayed down; the batch is left unconfirmed."""


class Pending(NamedTuple):
    """An event of the current batch: its id, point and the device to confirm to."""

    id: str
    point: Point | None
    site: str
    device: str


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """The worker's knobs (from :class:`~facility_gateway.settings.GatewaySettings`).

    Attributes:
        owner: this process's unique claim owner id.
        lease_s: claim lease, s.
        batch_size: most messages per batch.
        flush_interval_s: longest wait for a batch to fill, s.
        flush_quiet_s: a batch goes once nothing arrived for this long, s (the end of
            a burst is not held back for the rest of ``flush_interval_s``).
        retry_initial_s: first backoff, s; doubles up to ``retry_max_s``.
        retry_max_s: longest backoff, s.
        stop_grace_s: after stop, how long a failing batch is retried, s.
        rules: event time plausibility.
    """

    owner: str
    lease_s: float = 30.0
    batch_size: int = 1000
    flush_interval_s: float = 0.1
    flush_quiet_s: float = 0.01
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    stop_grace_s: float = 10.0
    rules: TimeRules = DEFAULT_RULES


class Worker:
    """Takes batches from the intake queue and runs them through the pipeline."""

    def __init__(
        self,
        queue: IntakeQueue[Inbound],
        intake: Intake,
        dedupe: DedupeStore,
        writer: PointWriter,
        publish_ack: AckPublisher,
        stats: Stats,
        config: WorkerConfig,
        *,
        fault: FaultHook | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.queue = queue
        self.intake = intake
        self.dedupe = dedupe
        self.writer = writer
        self.publish_ack = publish_ack
        self.stats = stats
        self.config = config
        self.fault = fault or FaultHook(None)
        self.clock = clock
        self.stopping = threading.Event()
        self.tick: Callable[[], None] = lambda: None

    def run(self) -> None:
        """Process batches until :meth:`request_stop`; the batch in hand is finished."""
        cfg = self.config
        while not self.stopping.is_set():
            batch = self.queue.take(cfg.batch_size, cfg.flush_interval_s, quiet_s=cfg.flush_quiet_s)
            if batch:
                self.process_safely(batch)
            self.tick()
        self.tick()

    def request_stop(self) -> None:
        """Finish the current batch, then leave :meth:`run`."""
        self.stopping.set()

    def process_safely(self, batch: Sequence[Inbound]) -> None:
        """:meth:`process`, logging (not raising) anything unexpected: one bad batch
        never stops the gateway; its ids stay unconfirmed and the edge resends."""
        try:
            self.process(batch)
        except BatchAbandoned:
            logger.warning("batch of %d messages given up at stop, unconfirmed", len(batch))
        except Exception:
            self.stats.add(errors=1)
            logger.exception("batch of %d messages failed; left unconfirmed", len(batch))

    def process(self, batch: Sequence[Inbound]) -> None:
        """Run one batch through steps 1-5 (see the module docstring).

        Raises:
            BatchAbandoned: stop was requested and the stores stayed unavailable.
        """
        events, statuses, rejected = self._map(batch)
        times = {i: p.point.time_ns for i, p in events.items() if p.point is not None}
        claims = self._retry(
            "claim",
            lambda: self.dedupe.claim(events, self.config.owner, self.config.lease_s, times),
            (),
        )
        self._keep_first_times(events, claims.times)
        self.stats.add(
            redelivered=len(claims.busy),
            duplicate=len(claims.stored),
            in_doubt=len(claims.in_doubt),
        )
        held = claims.mine
        try:
            found = self._resolve_in_doubt([events[i] for i in claims.in_doubt], held)
            todo = [events[i] for i in sorted(claims.new | claims.in_doubt) if i not in found]
            written, refused = self._write(todo, statuses, held)
        except BatchAbandoned:
            self._release(held)
            raise
        done = {p.id for p in written} | found
        if done:
            self._retry("mark_stored", lambda: self.dedupe.mark_stored(done), held)
        self._release({p.id for p in refused if p.id})
        rejected += [(p.site, p.device, p.id, "store_rejected") for p in refused if p.id]
        self._confirm([events[i] for i in sorted(done | claims.stored)])
        self._confirm_rejected(rejected)

    @staticmethod
    def _keep_first_times(events: dict[str, Pending], first: dict[str, int]) -> None:
        """Give in-doubt events the point time of their first claim: an estimated time
        (from the receive time) differs on every delivery, and the point written before
        the crash, if any, has the first one."""
        for event_id, time_ns in first.items():
            pending = events[event_id]
            if pending.point is not None and pending.point.time_ns != time_ns:
                events[event_id] = pending._replace(point=replace(pending.point, time_ns=time_ns))

    def _map(
        self, batch: Sequence[Inbound]
    ) -> tuple[dict[str, Pending], list[Point], list[tuple[str, str, str, str]]]:
        now = self.clock()
        rules = self.config.rules
        events: dict[str, Pending] = {}
        statuses: list[Point] = []
        rejected: list[tuple[str, str, str, str]] = []  # (site, device, event id, reason)
        repeated = 0
        for item in batch:
            topic, msg = item.topic, item.message
            try:
                if topic.channel == "evt":
                    if msg.id in events:  # type: ignore[union-attr]
                        repeated += 1
                        continue
                    point = event_point(topic, msg, item.received_ms, now, rules)  # type: ignore[arg-type]
                    events[msg.id] = Pending(msg.id, point, topic.site, topic.device)  # type: ignore[union-attr]
                else:
                    statuses.append(status_point(topic, msg, item.received_ms, now, rules))  # type: ignore[arg-type]
            except ContractError as exc:
                event_id = getattr(msg, "id", None)
                self.intake.reject(exc, str(topic), event_id=event_id)
                if topic.channel == "evt" and event_id:
                    rejected.append((topic.site, topic.device, event_id, exc.reason))
        self.stats.add(duplicate=repeated)
        return events, statuses, rejected

    def _resolve_in_doubt(self, doubtful: list[Pending], held: Collection[str]) -> set[str]:
        if not doubtful:
            return set()
        points = [p.point for p in doubtful if p.point is not None]
        there = self._retry("existing", lambda: self.writer.existing(points), held)
        found = {p.id for p in doubtful if p.point in there}
        self.stats.add(duplicate=len(found))
        logger.info("%d ids in doubt, %d already stored", len(doubtful), len(found))
        return found

    def _write(
        self, todo: list[Pending], statuses: list[Point], held: Collection[str]
    ) -> tuple[list[Pending], list[Pending]]:
        items = todo + [Pending("", p, "", "") for p in statuses]
        if not items:
            return [], []
        refused: list[Pending] = []
        stack = [items]
        while stack:
            part = stack.pop()
            try:
                self._retry(
                    "write",
                    lambda part=part: self.writer.write(  # type: ignore[misc]
                        [p.point for p in part if p.point is not None]
                    ),
                    held,
                )
            except StoreRejected as exc:
                if len(part) > 1:
                    mid = len(part) // 2
                    stack += [part[mid:], part[:mid]]
                    continue
                refused.append(part[0])
                self.stats.reject("store_rejected")
                logger.warning(
                    "point store refused %s (event %s): %s",
                    part[0].point,
                    part[0].id or "status",
                    exc,
                )
                continue
            self.stats.add(written_batches=1)
            self.fault.after_write()
        refused_set = {id(p) for p in refused}
        written = [p for p in items if id(p) not in refused_set]
        self.stats.add(
            accepted=sum(1 for p in written if p.id), statuses=sum(1 for p in written if not p.id)
        )
        return [p for p in written if p.id], refused

    def _retry(self, what: str, op: Callable[[], T], held: Collection[str]) -> T:
        cfg = self.config
        delay = cfg.retry_initial_s
        renewed = give_up = time.monotonic()
        give_up += 1e18
        while True:
            try:
                return op()
            except (StoreUnavailable, DedupeUnavailable) as exc:
                now = time.monotonic()
                if what in ("write", "existing"):
                    self.stats.add(write_retries=1)
                if self.stopping.is_set():
                    give_up = min(give_up, now + cfg.stop_grace_s)
                    if now >= give_up:
                        raise BatchAbandoned(what) from exc
                logger.warning(
                    "%s failed (%d ids held), retrying in %.1f s: %s", what, len(held), delay, exc
                )
                time.sleep(min(delay, max(0.0, give_up - now)))
                delay = min(delay * 2, cfg.retry_max_s)
                if held and time.monotonic() - renewed >= cfg.lease_s / 3:
                    renewed = time.monotonic()
                    self._renew(held)

    def _renew(self, held: Collection[str]) -> None:
        try:
            kept = self.dedupe.renew(held, self.config.owner, self.config.lease_s)
        except DedupeUnavailable as exc:
            logger.warning("cannot renew %d claims: %s", len(held), exc)
            return
        if kept < len(held):
            logger.warning("%d of %d claims lapsed while retrying", len(held) - kept, len(held))

    def _release(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if not ids:
            return
        try:
            self.dedupe.release(ids, self.config.owner)
        except DedupeUnavailable as exc:
            logger.warning("cannot release %d claims (they will expire): %s", len(ids), exc)

    def _confirm_rejected(self, rejected: Iterable[tuple[str, str, str, str]]) -> None:
        """Tell each edge which of its events will never be stored, and why, so it sets
        them aside instead of sending them forever (``Ack.rejected``)."""
        groups: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        for site, device, event_id, reason in rejected:
            groups[(site, device)][event_id] = reason
        for (site, device), reasons in groups.items():
            items = list(reasons.items())
            for start in range(0, len(items), ACK_MAX_IDS):
                self.publish_ack(
                    ack_topic(site, device),
                    encode_ack([], dict(items[start : start + ACK_MAX_IDS])),
                )

    def _confirm(self, done: Iterable[Pending]) -> None:
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for p in done:
            groups[(p.site, p.device)].append(p.id)
        total = 0
        for (site, device), ids in groups.items():
            topic = ack_topic(site, device)
            for start in range(0, len(ids), ACK_MAX_IDS):
                self.publish_ack(topic, encode_ack(ids[start : start + ACK_MAX_IDS]))
            total += len(ids)
        self.stats.add(acked=total)
