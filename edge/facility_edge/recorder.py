"""Turn device outputs into envelope events and store them, one batch per transaction.

The :class:`Recorder` owns what makes events of one agent boot consistent:

- ``boot``: a new UUID per agent start; ``seq``: 1, 2, 3 ... over all events of the
  boot, without gaps (a refused batch gives its numbers back);
- ``ts``/``synced`` from one :class:`~facility_edge.clock.Stamper`, so timestamps
  never go backwards within the boot, and one ``clock_step`` notice (device = the
  agent) when the wall clock steps back;
- ``mono``: monotonic ms since the agent started;
- ``id``: a new UUIDv7, or the device's own id (a kiosk's session id): a draft whose id
  is already in the outbox is a repeat and is left out (no seq number is used for it).

Stamping, numbering and the outbox append happen under one lock, so ``seq`` order
and ``ts`` order agree across all reader threads.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import uuid6
from facility_contracts.envelope import (
    CheckIn,
    CheckInBody,
    DeviceNotice,
    DeviceNoticeBody,
    DoorCrossing,
    DoorCrossingBody,
    HealthReading,
    HealthReadingBody,
    SatisfactionVote,
    SatisfactionVoteBody,
)

from facility_edge.clock import Clock, Stamp, Stamper
from facility_edge.outbox import Event, Outbox

logger = logging.getLogger(__name__)

#: The event model of each body a device reader drafts.
_EVENT_OF_BODY: dict[type, type[Event]] = {
    CheckInBody: CheckIn,
    DoorCrossingBody: DoorCrossing,
    DeviceNoticeBody: DeviceNotice,
    SatisfactionVoteBody: SatisfactionVote,
    HealthReadingBody: HealthReading,
}


@dataclass(frozen=True, slots=True)
class Draft:
    """An event before it has an id, a boot, a seq and a time.

    Attributes:
        device: the device id (the agent's id for agent-level notices).
        body: the event body; its type selects the kind.
        ts: device-clock time (UTC ms) to use instead of the batch stamp; None uses the
            stamp.
        synced: with ``ts``: whether the device's clock was synchronised (None: trusted
            as synchronised).
        id: the event id when the device gave one (a kiosk session id, so a repeat is
            stored once); None makes a new UUIDv7.
    """

    device: str
    body: (
        DoorCrossingBody | DeviceNoticeBody | CheckInBody | SatisfactionVoteBody | HealthReadingBody
    )
    ts: int | None = None
    synced: bool | None = None
    id: str | None = None


@dataclass(slots=True)
class Batch:
    """What a device produced from one read: drafts plus the state to save with them.

    Attributes:
        drafts: the events to store.
        state: state entries to save in the same transaction.
        save: write ``state`` even when there are no drafts.
    """

    drafts: list[Draft] = field(default_factory=list)
    state: dict[str, str] = field(default_factory=dict)
    save: bool = False


class Recorder:
    """Number, stamp and store events (thread-safe).

    Args:
        outbox: where events go.
        clock: the agent's clock.
        agent_id: device id of agent-level notices (``clock_step``).
        boot: boot id; a new UUID when None.
        on_recorded: called (outside the lock) after events were stored, e.g. to wake
            the forwarder.
    """

    def __init__(
        self,
        outbox: Outbox,
        clock: Clock,
        *,
        agent_id: str,
        boot: str | None = None,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.clock = clock
        self.agent_id = agent_id
        self.boot = boot or str(uuid.uuid4())
        self.mono0 = clock.mono_ms()
        self._stamper = Stamper(clock)
        self._lock = threading.Lock()
        self._seq = 0
        self._on_recorded = on_recorded

    @property
    def last_seq(self) -> int:
        """The seq of the last stored event of this boot (0 before the first)."""
        return self._seq

    def since_boot_ms(self, mono_ms: int) -> int:
        """A clock monotonic reading as ms since the agent started (>= 0)."""
        return max(0, mono_ms - self.mono0)

    def record(self, build: Callable[[Stamp], Batch]) -> list[Event]:
        """Stamp a batch, let ``build`` make its drafts, and store them with their state.

        ``build`` runs under the recorder's lock with the batch's stamp. Drafts with
        an ``id`` already in the outbox are left out. Nothing is written when no draft
        is left, the batch does not ask to ``save`` and the clock did not step.

        Returns:
            The stored events, in seq order.

        Raises:
            OutboxFull, OutboxError: nothing was stored; the seq numbers and the clock
                step notice are given back. Exceptions from ``build`` propagate.
        """
        with self._lock:
            snap = self._stamper.snapshot()
            stamp = self._stamper.stamp()
            try:
                batch = build(stamp)
                drafts = self._new_drafts(batch.drafts)
                if stamp.step_ms is not None:
                    detail = f"wall clock stepped back {stamp.step_ms} ms; ts held at {stamp.ts}"
                    drafts.insert(
                        0, Draft(self.agent_id, DeviceNoticeBody(code="clock_step", detail=detail))
                    )
                if not drafts and not batch.save:
                    return []
                events = [self._event(d, stamp, self._seq + i + 1) for i, d in enumerate(drafts)]
                self.outbox.append(events, batch.state)
            except BaseException:
                self._stamper.restore(snap)
                raise
            self._seq += len(events)
        for e in events:
            logger.debug(
                "recorded event %s device=%s seq=%d kind=%s", e.id, e.device, e.seq, e.kind
            )
        if self._on_recorded is not None:
            self._on_recorded()
        return events

    def _new_drafts(self, drafts: list[Draft]) -> list[Draft]:
        """``drafts`` without those whose own id is stored already (or repeated here)."""
        given = [d.id for d in drafts if d.id is not None]
        if not given:
            return list(drafts)
        seen = self.outbox.known(given)
        out: list[Draft] = []
        for d in drafts:
            if d.id is not None:
                if d.id in seen:
                    logger.debug(
                        "event %s device=%s stored already: repeat left out", d.id, d.device
                    )
                    continue
                seen.add(d.id)
            out.append(d)
        return out

    def _event(self, draft: Draft, stamp: Stamp, seq: int) -> Event:
        if draft.ts is None:
            ts, synced = stamp.ts, stamp.synced
        else:
            ts, synced = draft.ts, True if draft.synced is None else draft.synced
        event_id = draft.id or str(uuid6.uuid7())
        mono = self.since_boot_ms(stamp.mono)
        model = _EVENT_OF_BODY[type(draft.body)]
        return model(
            id=event_id,
            device=draft.device,
            boot=self.boot,
            seq=seq,
            ts=ts,
            mono=mono,
            synced=synced,
            body=draft.body,
        )
