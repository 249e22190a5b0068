"""Actual opening of a space, and the weekly opening quotas of the standard (pure).

Evidence per local day, strongest first (docs/metrics.md, "Actual opening"):

1. **Staff check-ins** with task ``opening`` / ``closing`` in the space: each opening
   starts an open interval that the next closing ends. A closing without an opening
   before it starts at the earlier of the day's first published opening and its first
   crossing; an opening never closed ends at the later of the day's last published
   closing and its last crossing.
2. **Door activity** (no opening/closing check-in that day): every published opening
   interval in which the door counters counted someone counts as open, whole.
3. Otherwise the space was not open that day.

Intervals are clipped to the local day and to ``now`` (nothing counts in the future).

Quotas (4+5+X standard, 5 featured services): culture and leisure (文化休闲) open at least
**28 hours a week**; the health station (健康服务) open at least **5 days a week**. Weeks
are ISO weeks (Monday first) in the complex's zone. During a week, the quota **can no
longer be met** when what was achieved so far plus everything the published hours still
offer after ``now`` falls short of it.

Instants are UTC epoch ms; durations are minutes unless named ``_h``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Evidence = Literal["checkin", "door", "none"]
QuotaKind = Literal["hours", "days"]
Range = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Quota:
    """A weekly opening quota: ``kind`` hours or days, at least ``target`` per week."""

    kind: QuotaKind
    target: float
    clause: str


#: Space type -> its weekly opening quota (4+5+X standard, featured services 2 and 4).
QUOTAS: dict[str, Quota] = {
    "culture": Quota("hours", 28.0, "文化休闲: 每周开放时间不少于28小时"),
    "health": Quota("days", 5.0, "健康服务: 每周开放不少于5天"),
}


@dataclass(frozen=True, slots=True)
class DayOpening:
    """How long a space was actually open on one local day.

    Attributes:
        intervals: open ranges, UTC ms, sorted, clipped to the day and to ``now``.
        evidence: what showed it (``checkin``, ``door`` or ``none``).
    """

    intervals: tuple[Range, ...]
    evidence: Evidence

    @property
    def minutes(self) -> float:
        """Open minutes."""
        return sum(e - s for s, e in self.intervals) / 60_000


def _clip(ranges: Sequence[Range], lo: int, hi: int) -> tuple[Range, ...]:
    out = []
    for s, e in sorted(ranges):
        s, e = max(s, lo), min(e, hi)
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return tuple(out)


def _from_checkins(
    marks: Sequence[tuple[int, str]], scheduled: Sequence[Range], crossings: Sequence[int]
) -> list[Range]:
    first = min([s for s, _ in scheduled] + list(crossings), default=None)
    last = max([e for _, e in scheduled] + list(crossings), default=None)
    out: list[Range] = []
    start: int | None = None
    for ts, task in sorted(marks):
        if task == "opening":
            start = ts if start is None else start
        elif start is not None:
            out.append((start, ts))
            start = None
        elif first is not None and first < ts and not out:
            out.append((first, ts))
    if start is not None and last is not None and last > start:
        out.append((start, last))
    return out


def day_opening(
    *,
    day_range: Range,
    scheduled: Sequence[Range],
    marks: Sequence[tuple[int, str]],
    crossings: Sequence[int],
    now_ms: int | None = None,
) -> DayOpening:
    """Actual opening of one local day (see the module docstring).

    Args:
        day_range: local midnight to local midnight, UTC ms.
        scheduled: the day's published opening ranges, UTC ms.
        marks: (UTC ms, ``opening`` | ``closing``) staff check-ins of the day.
        crossings: UTC ms of the day's door events with at least one person.
        now_ms: nothing after this counts (None: the day is over).
    """
    hi = day_range[1] if now_ms is None else min(day_range[1], now_ms)
    if marks:
        found = _from_checkins(marks, scheduled, crossings)
        last_ts, last_task = max(marks)
        if last_task == "opening" and now_ms is not None and day_range[0] <= now_ms < day_range[1]:
            found.append((last_ts, hi))  # opened and not closed yet: open until now
        return DayOpening(_clip(found, day_range[0], hi), "checkin")
    times = sorted(crossings)
    active = []
    for s, e in scheduled:
        k = bisect.bisect_left(times, s)
        if k < len(times) and times[k] < e:
            active.append((s, e))
    if active:
        return DayOpening(_clip(active, day_range[0], hi), "door")
    return DayOpening((), "none")


@dataclass(frozen=True, slots=True)
class Outlook:
    """A week's opening against its quota at ``now``.

    Attributes:
        achieved: open hours (or days) so far this week.
        possible_rest: what the published hours still offer after now (h or days).
        target: the quota (h or days).
        met: achieved >= target.
        reachable: achieved + possible_rest >= target (False: warn).
    """

    kind: QuotaKind
    achieved: float
    possible_rest: float
    target: float

    @property
    def met(self) -> bool:
        """The quota is already met."""
        return self.achieved >= self.target - 1e-9

    @property
    def reachable(self) -> bool:
        """The quota can still be met by following the published hours."""
        return self.achieved + self.possible_rest >= self.target - 1e-9


def week_outlook(
    quota: Quota,
    days: Sequence[tuple[DayOpening, Sequence[Range]]],
    now_ms: int,
) -> Outlook:
    """The outlook of one week at ``now_ms``.

    Args:
        quota: the space's weekly quota.
        days: for each local day of the week in order, its actual opening up to now and
            its published opening ranges (UTC ms).
        now_ms: the instant of the evaluation (UTC ms).
    """
    if quota.kind == "hours":
        achieved = sum(d.minutes for d, _ in days) / 60
        rest = sum(max(0, e - max(s, now_ms)) for _, sch in days for s, e in sch) / 3_600_000
        return Outlook("hours", achieved, rest, quota.target)
    opened = sum(1 for d, _ in days if d.intervals)
    rest_days = sum(1 for d, sch in days if not d.intervals and any(e > now_ms for _, e in sch))
    return Outlook("days", float(opened), float(rest_days), quota.target)
