"""What the engine reads and returns (pure data), and the state decision every rule shares.

Instants are UTC epoch milliseconds (``*_ms``). An occurrence moves
``pending -> due -> on_time | late | missed``, or is ``excused`` (the space is closed
that day or period) or ``unknown`` (it would be missed, but a check-in terminal of the
space could not deliver during its window, so check-ins may still be on their way).
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, NamedTuple

from facility_server.compliance.calendar import ClosedReason, day_status
from facility_server.opening import Interval, Schedule

State = Literal["pending", "due", "on_time", "late", "missed", "excused", "unknown"]
STATES: tuple[State, ...] = ("pending", "due", "on_time", "late", "missed", "excused", "unknown")
#: Default time a terminal must be back online before its silence counts as "nothing done":
#: its edge outbox delivers the backlog within seconds of reconnecting (ms).
SETTLE_MS = 180_000


class CheckInView(NamedTuple):
    """An accepted check-in: event time and receive time (UTC ms), checkpoint, task.

    (Named tuples, here and below: the tick makes hundreds of thousands of them.) Any
    tuple with these fields first, in this order, will do: the loader passes database
    rows as they come, and the hot loops read fields by position (:data:`ID` ...).
    """

    id: int
    ts_ms: int
    received_ms: int
    checkpoint: str
    task: str


@dataclass(frozen=True, slots=True)
class Terminal:
    """A check-in terminal serving a space.

    Attributes:
        code: device code.
        online: its current health.
        since_ms: online: when it came (back) online; offline: when it was last heard
            (None: never heard from).
    """

    code: str
    online: bool
    since_ms: int | None


class Window(NamedTuple):
    """The instants of one occurrence (UTC ms): check-ins count from ``start_ms``; done
    before ``deadline_ms`` is on time, before ``until_ms`` late; ``alert_ms`` is when a
    missing check-in becomes "missed" (deadline + grace)."""

    key: str
    day: date
    start_ms: int
    deadline_ms: int
    alert_ms: int
    until_ms: int


class Occurrence(NamedTuple):
    """One evaluated due instance of a rule.

    Attributes:
        window: its key, local day and instants.
        state: see the module docstring.
        satisfied_by: ids of the check-ins that did it (first per checkpoint / the first
            ``count`` for quotas), in time order.
        done_ms: when it was complete (the last needed check-in's event time).
        reported_ms: when the last of those check-ins reached the server.
        done_count / needed_count: progress (checkpoints visited, check-ins counted).
        missing: checkpoints not visited (patrol rounds).
        reason: why excused or unknown.
    """

    window: Window
    state: State
    satisfied_by: tuple[int, ...] = ()
    done_ms: int | None = None
    reported_ms: int | None = None
    done_count: int = 0
    needed_count: int = 1
    missing: tuple[str, ...] = ()
    reason: str = ""

    @property
    def key(self) -> str:
        """The occurrence key."""
        return self.window.key

    @property
    def reported_late(self) -> bool:
        """True when the check-in that did it arrived after the alert time (late data)."""
        return self.reported_ms is not None and self.reported_ms > self.window.alert_ms


#: Positions of a CheckInView's fields (hot loops index rows instead of naming them).
ID, TS, RECEIVED, CHECKPOINT, TASK = range(5)
_NONE: tuple[tuple[CheckInView, ...], tuple[int, ...]] = ((), ())
_time_then_id = operator.itemgetter(TS, ID)


@dataclass
class SpaceContext:
    """Everything about one space the engine needs besides the rule.

    Check-ins may be given in any order; they are kept per task sorted by (time, id),
    so results never depend on arrival order.
    """

    schedule: Schedule
    checkins: Iterable[CheckInView] = ()
    terminals: Sequence[Terminal] = ()
    settle_ms: int = SETTLE_MS
    _by_task: dict[str, tuple[list[CheckInView], list[int]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _days: dict[date, tuple[tuple[Interval, ...], ClosedReason]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        groups: dict[str, list[CheckInView]] = {}
        for ci in self.checkins:
            groups.setdefault(ci[TASK], []).append(ci)
        for items in groups.values():
            items.sort(key=_time_then_id)
        self._index(groups)

    def _index(self, groups: dict[str, list[CheckInView]]) -> None:
        for task, items in groups.items():
            self._by_task[task] = (items, [c[TS] for c in items])

    @classmethod
    def grouped(
        cls,
        schedule: Schedule,
        by_task: dict[str, list[CheckInView]],
        terminals: Sequence[Terminal] = (),
        settle_ms: int = SETTLE_MS,
        days: dict[date, tuple[tuple[Interval, ...], ClosedReason]] | None = None,
    ) -> SpaceContext:
        """A context from check-ins already grouped by task, each list in (time, id) order
        (the loader's ``ORDER BY``; the lists are kept, not copied or sorted again).
        ``days``: a cache of :meth:`day` to share with the other contexts of the same
        ``schedule`` object."""
        ctx = cls(schedule, (), terminals, settle_ms)
        ctx._index(by_task)
        if days is not None:
            ctx._days = days
        return ctx

    def day(self, day: date) -> tuple[tuple[Interval, ...], ClosedReason]:
        """Opening intervals of local ``day`` and why it is closed ("" when open); cached
        (several rules of one space ask for the same days)."""
        found = self._days.get(day)
        if found is None:
            found = self._days[day] = day_status(self.schedule, day)
        return found

    def between(self, task: str, lo_ms: int, hi_ms: int) -> Sequence[CheckInView]:
        """Check-ins of ``task`` with ``lo_ms <= ts_ms < hi_ms``, in (time, id) order."""
        items, times = self.of_task(task)
        return items[bisect.bisect_left(times, lo_ms) : bisect.bisect_left(times, hi_ms)]

    def of_task(self, task: str) -> tuple[Sequence[CheckInView], Sequence[int]]:
        """Check-ins of ``task`` in (time, id) order, and their times (UTC ms): for
        bisecting many windows of one day."""
        return self._by_task.get(task, _NONE)

    def doubt(self, start_ms: int, alert_ms: int, now_ms: int) -> str:
        """Why check-ins of a window may not have arrived yet ("" when they must have).

        A terminal offline since before the alert time may hold check-ins in its outbox;
        one that came back after the window opened gets ``settle_ms`` to deliver them.
        """
        for t in self.terminals:
            if not t.online:
                if t.since_ms is None:
                    return f"terminal {t.code} never reported"
                if t.since_ms < alert_ms:
                    return f"terminal {t.code} offline"
            elif (
                t.since_ms is not None
                and t.since_ms > start_ms
                and now_ms - t.since_ms < self.settle_ms
            ):
                return f"terminal {t.code} reconnected, waiting for delayed check-ins"
        return ""


def decide(
    window: Window, done_ms: int | None, now_ms: int, ctx: SpaceContext
) -> tuple[State, str]:
    """The state shared by every rule kind, and why when unknown, given when (if) the
    occurrence was complete: done before the deadline is on time, after it late; not done
    is pending before the window, due until the alert time, then missed, or unknown while
    a terminal may still hold its check-ins."""
    if done_ms is not None:
        return ("on_time" if done_ms < window.deadline_ms else "late"), ""
    if now_ms < window.start_ms:
        return "pending", ""
    if now_ms < window.alert_ms:
        return "due", ""
    reason = ctx.doubt(window.start_ms, window.alert_ms, now_ms)
    return ("unknown", reason) if reason else ("missed", "")


def first_per_checkpoint(
    checkins: Sequence[CheckInView], wanted: frozenset[str]
) -> dict[str, CheckInView]:
    """The first check-in (in the given order) at each wanted checkpoint, in that order."""
    found: dict[str, CheckInView] = {}
    left = len(wanted)
    for ci in checkins:
        cp = ci[CHECKPOINT]
        if cp in wanted and cp not in found:
            found[cp] = ci
            left -= 1
            if not left:
                break
    return found
