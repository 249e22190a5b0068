"""What check-in terminals (RFID readers, QR cameras) share.

- :class:`RepeatFilter`: one check-in per presentation of a badge. A badge read again
  less than ``window_ms`` after its previous read is the same presentation (readers
  repeat frames while a card lies on them; a camera sees a held code in every frame).
  The window slides: a card left on the reader for a minute is one check-in.
- :class:`TaskSelector`: the task of the next check-in. A button pressed at most
  ``hold_ms`` before a tap sets that tap's task (once); otherwise the terminal's task.
- :class:`TerminalStore`: turns accepted badges into ``checkin`` events in the outbox,
  one transaction per read, and shows outbox trouble in the reader state.

Times are monotonic ms of the agent's clock. Pure except :class:`TerminalStore`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from facility_contracts.envelope import (
    CheckInBody,
    CheckInMethod,
    CheckInProof,
    DeviceNoticeBody,
    TaskKind,
)

from facility_edge.errors import OutboxError, OutboxFull
from facility_edge.recorder import Batch, Draft, Recorder
from facility_edge.status import DeviceStates

logger = logging.getLogger(__name__)


class RepeatFilter:
    """Per-badge sliding repeat window.

    Args:
        window_ms: a read less than this many ms after the badge's previous read is a
            repeat, ms (> 0).
    """

    def __init__(self, window_ms: int) -> None:
        if window_ms <= 0:
            raise ValueError(f"window_ms must be > 0, got {window_ms}")
        self.window_ms = window_ms
        self._last: dict[str, int] = {}

    def is_repeat(self, badge: str, now_ms: int) -> bool:
        """Record a read of ``badge`` at ``now_ms``; True when it repeats the previous one."""
        last = self._last.get(badge)
        self._last[badge] = now_ms
        if len(self._last) > 256:
            self._prune(now_ms)
        return last is not None and now_ms - last < self.window_ms

    def forget(self, badge: str) -> None:
        """Forget ``badge`` (its next read is a new presentation)."""
        self._last.pop(badge, None)

    def _prune(self, now_ms: int) -> None:
        self._last = {b: t for b, t in self._last.items() if now_ms - t < self.window_ms}


class TaskSelector:
    """The task of the next check-in: a recent button press, else the default (thread-safe).

    Args:
        default: the terminal's configured task.
        hold_ms: a press applies to a check-in at most this many ms later, ms.
    """

    def __init__(self, default: TaskKind, hold_ms: int) -> None:
        self.default: TaskKind = default
        self.hold_ms = hold_ms
        self._pending: tuple[TaskKind, int] | None = None
        self._lock = threading.Lock()

    def press(self, task: TaskKind, now_ms: int) -> None:
        """A button for ``task`` was pressed at ``now_ms`` (a later press replaces it)."""
        with self._lock:
            self._pending = (task, now_ms)

    def take(self, now_ms: int) -> TaskKind:
        """The task for a check-in at ``now_ms``; consumes a press that applies."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None and 0 <= now_ms - pending[1] <= self.hold_ms:
            return pending[0]
        return self.default


@dataclass(frozen=True, slots=True)
class Accepted:
    """A badge accepted for a check-in (before the task is chosen)."""

    badge: str
    method: CheckInMethod
    proof: CheckInProof


class TerminalStore:
    """Store check-ins of one terminal (``checkpoint``/``space`` from its configuration).

    Args:
        device_id, checkpoint, space: from the device's configuration.
        recorder: numbers, stamps and stores events.
        states: where the reader state is shown.
        selector: the task of each check-in.
    """

    def __init__(
        self,
        device_id: str,
        checkpoint: str,
        space: str,
        recorder: Recorder,
        states: DeviceStates,
        selector: TaskSelector,
    ) -> None:
        self.device_id, self.checkpoint, self.space = device_id, checkpoint, space
        self.recorder, self.states, self.selector = recorder, states, selector

    def store(self, accepted: list[Accepted], now_ms: int) -> bool:
        """Record one check-in per item in one transaction; False when not stored.

        A refusal (outbox full or failing) is logged with the badges and shown as the
        reader state ``outbox_full``/``outbox_error``; the caller forgets the badges so
        that a second tap is accepted.
        """
        if not accepted:
            return True
        drafts = [
            Draft(
                self.device_id,
                CheckInBody(
                    badge=a.badge,
                    checkpoint=self.checkpoint,
                    space=self.space,
                    task=self.selector.take(now_ms),
                    method=a.method,
                    proof=a.proof,
                ),
            )
            for a in accepted
        ]
        return self._record(drafts, [a.badge for a in accepted])

    def notice(self, code: str, detail: str) -> None:
        """Record a device notice (e.g. ``reconnected``); failures are only logged."""
        body = DeviceNoticeBody(code=code, detail=detail[:200])  # type: ignore[arg-type]
        self._record([Draft(self.device_id, body)], [])

    def _record(self, drafts: list[Draft], badges: list[str]) -> bool:
        try:
            events = self.recorder.record(lambda stamp: Batch(drafts))
        except OutboxFull as exc:
            self.states.set(self.device_id, "outbox_full")
            logger.error("device=%s check-ins of %s refused: %s", self.device_id, badges, exc)
            return False
        except OutboxError as exc:
            self.states.set(self.device_id, "outbox_error")
            logger.error("device=%s check-ins of %s not stored: %s", self.device_id, badges, exc)
            return False
        self.states.set(self.device_id, "reading")
        for e in events:
            logger.info("device=%s event=%s seq=%d %s", e.device, e.id, e.seq, e.body)
        return True
