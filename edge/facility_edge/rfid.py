"""The ``rfid_reader`` device kind: 125 kHz badge reads -> ``checkin`` events.

Bytes from the serial port go through the contract's splitter and decoder
(:mod:`facility_contracts.serial.rfid125`, via :class:`~.serial_reader.FrameCore`):
noise between frames is skipped, and frames with a bad checksum, bad characters or an
all-zero tag are counted by reason and dropped. Each valid read's badge then goes
through a :class:`~.checkins.RepeatFilter` (``repeat_window_s``): the frames a reader
repeats while a card lies on it are one check-in. The check-ins completed by one read
of the port are stored in one outbox transaction, with the task from the terminal's
configuration or from a button pressed just before (``buttons``). A reopened port
(replug) records a ``reconnected`` notice. Nothing the reader sends stops the thread.
"""

from __future__ import annotations

import logging
from typing import Any

from facility_contracts.serial import rfid125

from facility_edge.buttons import ButtonReader
from facility_edge.checkins import Accepted, RepeatFilter, TaskSelector, TerminalStore
from facility_edge.config import ButtonsConfig, RfidReaderConfig
from facility_edge.recorder import Recorder
from facility_edge.serial_reader import FrameCore, SerialReader
from facility_edge.status import DeviceStates

logger = logging.getLogger(__name__)


class RfidReaderDevice:
    """Handler of one reader's byte stream (a :class:`~.serial_reader.ByteSink`).

    Args:
        cfg: the device's configuration.
        recorder: numbers, stamps and stores events (its clock times the repeats).
        states: where the reader state is shown.
        selector: the task of each check-in (the configured task by default).
    """

    def __init__(
        self,
        cfg: RfidReaderConfig,
        recorder: Recorder,
        states: DeviceStates,
        selector: TaskSelector | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = recorder.clock
        self.selector = selector or TaskSelector(cfg.task, 0)
        self.core = FrameCore(cfg.id, rfid125.splitter(), rfid125.decode)
        self.repeats = RepeatFilter(max(1, round(cfg.repeat_window_s * 1000)))
        self.store = TerminalStore(
            cfg.id, cfg.checkpoint, cfg.space, recorder, states, self.selector
        )
        self.states = states
        self.accepted = 0
        self.repeated = 0
        states.set(cfg.id, "starting")

    def opened(self, reconnect: bool) -> None:
        self.states.set(self.cfg.id, "reading")
        if reconnect:
            self.store.notice("reconnected", f"port {self.cfg.port} reopened")

    def open_failed(self, reason: str) -> None:
        self.states.set(self.cfg.id, "disconnected")

    def received(self, data: bytes) -> None:
        frames = self.core.feed(data)
        if not frames:
            return
        now = self.clock.mono_ms()
        fresh: list[Accepted] = []
        for frame in frames:
            badge = frame.badge
            if self.repeats.is_repeat(badge, now):  # also a second frame in this read
                self.repeated += 1
                continue
            fresh.append(Accepted(badge, "rfid", "badge"))
        if not fresh:
            return
        if self.store.store(fresh, now):
            self.accepted += len(fresh)
        else:
            for a in fresh:
                self.repeats.forget(a.badge)

    def closed(self, reason: str) -> None:
        self.core.reset()
        self.states.set(self.cfg.id, "disconnected")
        logger.info(
            "device=%s port closed: %s (check-ins %d, repeats %d, frames %s)",
            self.cfg.id,
            reason,
            self.accepted,
            self.repeated,
            dict(self.core.counts),
        )


class Terminal:
    """The threads of one terminal (reader, optional buttons); ``stop()`` stops them all.

    Attributes:
        device: the terminal's handler (counts, for status and tests).
        parts: objects with ``stop(timeout_s)``.
    """

    def __init__(self, device: Any, *parts: Any) -> None:
        self.device = device
        self.parts = [p for p in parts if p is not None]

    def stop(self, timeout_s: float = 2.0) -> None:
        for part in self.parts:
            part.stop(timeout_s)


def start_buttons(
    device_id: str, cfg: ButtonsConfig | None, selector: TaskSelector, recorder: Recorder
) -> ButtonReader | None:
    """Start the button thread of a terminal (None without ``buttons``)."""
    if cfg is None:
        return None
    clock = recorder.clock
    reader = ButtonReader(
        device_id, cfg.device, cfg.keys, lambda task: selector.press(task, clock.mono_ms())
    )
    reader.start()
    return reader


def start_rfid_reader(cfg: RfidReaderConfig, recorder: Recorder, states: DeviceStates) -> Terminal:
    """Build and start the reader thread (and button thread) of one RFID reader."""
    hold_ms = round(cfg.buttons.hold_s * 1000) if cfg.buttons else 0
    selector = TaskSelector(cfg.task, hold_ms)
    buttons = start_buttons(cfg.id, cfg.buttons, selector, recorder)
    device = RfidReaderDevice(cfg, recorder, states, selector)
    reader = SerialReader(cfg.id, cfg.port, cfg.baudrate, device)
    reader.start()
    return Terminal(device, reader, buttons)
