"""The ``door_counter`` device kind: ``DC`` frames -> crossings in the outbox.

Each read of the serial port becomes at most one outbox transaction holding the
events of all frames it completed and the tracker state after them
(:class:`~facility_edge.counter.TrackerState`, key ``door_counter/<device id>``).
The state is written with every batch that has events, with the first frame ever
(the baseline) and at least once a minute otherwise: while no event is produced
the totals do not change, so an older saved state still gives the right delta, and
the minute bound keeps the saved uptime recent for power-cycle detection.

When the outbox refuses a batch (full, or a write error) the tracker goes back to
the state before the batch and the reader state shows the alert. Totals are
cumulative, so the first batch accepted later counts the refused crossings too; only
a power cycle of the counter while the outbox stays full loses crossings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from facility_contracts.envelope import DeviceNoticeBody, DoorCrossingBody
from facility_contracts.serial import door_counter as dc

from facility_edge.clock import Stamp
from facility_edge.config import DoorCounterConfig
from facility_edge.counter import (
    CounterTracker,
    Crossing,
    FrameTime,
    Output,
    TrackerState,
    restore_state,
)
from facility_edge.errors import OutboxError, OutboxFull
from facility_edge.recorder import Batch, Draft, Recorder
from facility_edge.serial_reader import FrameCore, SerialReader
from facility_edge.status import DeviceStates

logger = logging.getLogger(__name__)

#: A device RTC value before 2020-01-01 UTC (ms) is an unset clock: use the edge's.
RTC_PLAUSIBLE_FROM_MS = 1_577_836_800_000
#: A device RTC further than this (ms) from a synchronised board clock is not trusted.
#: Save the tracker state at least this often (ms) even when no event was produced.
STATE_SAVE_EVERY_MS = 60_000


class DoorCounterDevice:
    """Handler of one door counter's byte stream (a :class:`~.serial_reader.ByteSink`).

    Args:
        cfg: the device's configuration.
        recorder: numbers, stamps and stores events.
        states: where the reader state is shown.
    """

    def __init__(self, cfg: DoorCounterConfig, recorder: Recorder, states: DeviceStates) -> None:
        self.cfg = cfg
        self.recorder = recorder
        self.states = states
        self.key = f"door_counter/{cfg.id}"
        self.core = FrameCore(cfg.id, dc.splitter(), dc.decode)
        self.tracker = CounterTracker(cfg.total_modulus, self._saved_state())
        self._saved_mono: int | None = None
        self._rtc_warned = False
        states.set(cfg.id, "starting")

    def _saved_state(self) -> TrackerState | None:
        try:
            return restore_state(self.recorder.outbox.load_state(self.key))
        except ValueError as exc:
            logger.error(
                "device=%s saved tracker state unusable, starting fresh: %s", self.cfg.id, exc
            )
            return None

    def opened(self, reconnect: bool) -> None:
        self.states.set(self.cfg.id, "reading")
        if reconnect:
            notice = self.tracker.reconnected(f"port {self.cfg.port} reopened")
            self._store(lambda stamp: [notice])

    def open_failed(self, reason: str) -> None:
        self.states.set(self.cfg.id, "disconnected")

    def received(self, data: bytes) -> None:
        frames = self.core.feed(data)
        if frames:
            self._store(
                lambda stamp: self.tracker.feed(
                    frames, FrameTime(stamp.ts, stamp.mono, stamp.synced)
                )
            )

    def closed(self, reason: str) -> None:
        self.core.reset()
        self.states.set(self.cfg.id, "disconnected")
        logger.info(
            "device=%s port closed: %s (frame errors so far: %s)",
            self.cfg.id,
            reason,
            dict(self.core.counts),
        )

    def _store(self, step: Callable[[Stamp], list[Output]]) -> None:
        """Run ``step(stamp) -> outputs`` and store its events with the new tracker state."""
        before = self.tracker.state

        def build(stamp: Stamp) -> Batch:
            drafts = [self._draft(o, stamp) for o in step(stamp)]
            if self.tracker.state is None:
                return Batch(drafts)
            stale = self._saved_mono is None or stamp.mono - self._saved_mono >= STATE_SAVE_EVERY_MS
            if drafts or before is None or stale:
                self._saved_mono = stamp.mono
                return Batch(drafts, {self.key: self.tracker.state.to_json()}, save=True)
            return Batch(drafts)

        try:
            events = self.recorder.record(build)
        except OutboxFull as exc:
            self.tracker.state, self._saved_mono = before, None
            self.states.set(self.cfg.id, "outbox_full")
            logger.debug("device=%s batch refused: %s", self.cfg.id, exc)
            return
        except OutboxError as exc:
            self.tracker.state, self._saved_mono = before, None
            self.states.set(self.cfg.id, "outbox_error")
            logger.error("device=%s batch not stored: %s", self.cfg.id, exc)
            return
        except Exception:
            self.tracker.state = before
            self._saved_mono = None
            raise
        self.states.set(self.cfg.id, "reading")
        for e in events:
            logger.debug("device=%s event=%s seq=%d %s", e.device, e.id, e.seq, e.body)

    def _draft(self, out: Output, stamp: Stamp) -> Draft:
        if isinstance(out, Crossing):
            body = DoorCrossingBody(in_=out.in_, out=out.out, space=self.cfg.space)
            return Draft(self.cfg.id, body, self._device_time(out.rtc_ms, stamp))
        return Draft(self.cfg.id, DeviceNoticeBody(code=out.code, detail=out.detail[:200]))

    def _device_time(self, rtc: int | None, stamp: Stamp) -> int | None:
        """The frame's RTC when ``clock: device`` and it is believable, else None (edge time).

        Believable: after 2020, and within ``max_rtc_skew_s`` of the board's clock when
        the board is synchronised (the gateway rejects, and never confirms, a synchronised
        time more than 5 minutes in its future).
        """
        if self.cfg.clock != "device" or rtc is None or rtc < RTC_PLAUSIBLE_FROM_MS:
            return None
        skew = self.cfg.max_rtc_skew_s
        if skew is not None and stamp.synced and abs(rtc - stamp.ts) > skew * 1000:
            if not self._rtc_warned:
                logger.warning(
                    "device=%s RTC %d ms off the synchronised board clock; using the board clock",
                    self.cfg.id,
                    rtc - stamp.ts,
                )
                self._rtc_warned = True
            return None
        self._rtc_warned = False
        return rtc


def start_door_counter(
    cfg: DoorCounterConfig, recorder: Recorder, states: DeviceStates
) -> SerialReader:
    """Build and start the reader thread of one door counter."""
    reader = SerialReader(cfg.id, cfg.port, cfg.baudrate, DoorCounterDevice(cfg, recorder, states))
    reader.start()
    return reader
