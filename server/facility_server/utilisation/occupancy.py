"""Occupancy of a space from its door counters (pure).

A space may have several doors, each with a counter; their crossings are merged in time
order. Occupancy starts at 0 at a reset instant and changes by ``in - out`` at each
crossing event (people entering first, then leaving, so a person passing in and out in
one event still counts towards the peak). It is never negative: a drop below zero is
clamped to 0 and the people clamped are counted as an anomaly (a counter missed
entries, or people came in through an uncounted door).

Occupancy is reset to 0 at every reset instant: the space's closing time on each local
day, in its own time zone (not UTC midnight; see :func:`reset_instants`). The people
still "inside" just before a reset are the day's **drift** (exits the counters missed).

Everything is integer UTC epoch milliseconds; durations in the results are minutes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import NamedTuple

from facility_server.compliance.calendar import local_ms
from facility_server.opening import Schedule, local_intervals

MS_PER_MIN = 60_000


class Crossing(NamedTuple):
    """People through one door counter since its previous event: UTC ms, in, out (people)."""

    ts_ms: int
    people_in: int
    people_out: int


@dataclass
class Bucket:
    """Figures of one time bucket (a local clock hour) ``[start_ms, end_ms)``.

    Attributes:
        visits: people who entered (people).
        exits: people who left (people).
        peak: highest occupancy at any moment of the bucket (people).
        clamped: people removed by clamping a negative occupancy (anomaly, people).
        open_min: minutes the space was open by its published schedule (min).
        occupied_min: minutes open with at least one person inside (min).
        person_min: occupancy integrated over the open minutes (person-minutes).
    """

    start_ms: int
    end_ms: int
    visits: int = 0
    exits: int = 0
    peak: int = 0
    clamped: int = 0
    open_min: float = 0.0
    occupied_min: float = 0.0
    person_min: float = 0.0


@dataclass
class Track:
    """The result of :func:`track`.

    Attributes:
        buckets: one per ``[bounds[i], bounds[i + 1])``.
        drifts: reset instant (UTC ms) -> people inside just before it (people).
        steps: (UTC ms, occupancy after the change) at every crossing and reset.
        min_occupancy: lowest occupancy ever held (0 unless clamping failed: never < 0).
    """

    buckets: list[Bucket]
    drifts: dict[int, int] = field(default_factory=dict)
    steps: list[tuple[int, int]] = field(default_factory=list)
    min_occupancy: int = 0


def reset_instants(schedule: Schedule, days: Sequence[date]) -> dict[date, int]:
    """Local day -> its reset instant (UTC ms): the end of the day's last opening
    interval in the space's zone, or the local midnight ending the day when the space is
    closed that day (so people counted on a closed day never carry over)."""
    tz = schedule.tz
    out = {}
    for day in days:
        intervals = local_intervals(schedule, day)
        minute = intervals[-1][1] if intervals else 1440
        out[day] = local_ms(tz, day, minute)
    return out


def open_ranges(schedule: Schedule, days: Sequence[date]) -> list[tuple[int, int]]:
    """The published opening intervals of ``days`` as sorted UTC-ms ranges."""
    tz = schedule.tz
    out = []
    for day in days:
        for start, end in local_intervals(schedule, day):
            out.append((local_ms(tz, day, start), local_ms(tz, day, end)))
    out.sort()
    return out


def hour_bounds(tz: object, first: date, end: date) -> list[int]:
    """Starts of the local clock hours of days ``[first, end)`` plus the final midnight
    (UTC ms, sorted, no duplicates even on a day with a DST change)."""
    out: set[int] = set()
    day = first
    while day < end:
        out.update(local_ms(tz, day, 60 * h) for h in range(24))  # type: ignore[arg-type]
        day += timedelta(days=1)
    out.add(local_ms(tz, end, 0))  # type: ignore[arg-type]
    return sorted(out)


class _Sweep:
    """State of one sweep over time (see :func:`track`)."""

    def __init__(self, bounds: Sequence[int], opens: Sequence[tuple[int, int]]) -> None:
        self.buckets = [Bucket(a, b) for a, b in pairwise(bounds)]
        self.bounds, self.opens = bounds, opens
        self.b = 0
        self.occ = 0
        self.t = bounds[0]
        self.out = Track(self.buckets)

    def _open_at(self, t: int) -> bool:
        k = bisect.bisect_right(self.opens, (t, 2**62)) - 1
        return k >= 0 and self.opens[k][0] <= t < self.opens[k][1]

    def advance(self, to: int) -> None:
        """Accumulate the constant state from ``self.t`` to ``to`` (no bound between)."""
        if to > self.t and self.b < len(self.buckets) and self._open_at(self.t):
            minutes = (to - self.t) / MS_PER_MIN
            bucket = self.buckets[self.b]
            bucket.open_min += minutes
            if self.occ > 0:
                bucket.occupied_min += minutes
                bucket.person_min += self.occ * minutes
        self.t = to

    def enter(self) -> None:
        """Move to the bucket containing ``self.t``; it starts at the current occupancy."""
        while self.b + 1 < len(self.bounds) - 1 and self.bounds[self.b + 1] <= self.t:
            self.b += 1
            self.buckets[self.b].peak = self.occ

    def reset(self, at: int) -> None:
        self.out.drifts[at] = self.occ
        self.occ = 0
        self.out.steps.append((at, 0))

    def cross(self, c: Crossing) -> None:
        bucket = self.buckets[self.b]
        bucket.visits += c.people_in
        bucket.exits += c.people_out
        self.occ += c.people_in
        bucket.peak = max(bucket.peak, self.occ)
        self.occ -= c.people_out
        if self.occ < 0:
            bucket.clamped -= self.occ
            self.occ = 0
        self.out.min_occupancy = min(self.out.min_occupancy, self.occ)
        self.out.steps.append((c.ts_ms, self.occ))


def track(
    crossings: Sequence[Crossing],
    *,
    bounds: Sequence[int],
    resets: Sequence[int],
    opens: Sequence[tuple[int, int]],
) -> Track:
    """Occupancy over ``[bounds[0], bounds[-1])`` starting empty at ``bounds[0]``.

    Args:
        crossings: events of every door of the space, in any order; those outside the
            range are ignored.
        bounds: bucket boundaries, UTC ms, sorted (e.g. :func:`hour_bounds`).
        resets: reset instants, UTC ms (:func:`reset_instants`); a crossing at the very
            instant of a reset counts after it.
        opens: published opening ranges, UTC ms, sorted (:func:`open_ranges`).

    Returns:
        The buckets, the drift at each reset, and the occupancy steps.

    Raises:
        ValueError: fewer than two bounds.
    """
    if len(bounds) < 2:
        raise ValueError("track needs at least one bucket (two bounds)")
    lo, hi = bounds[0], bounds[-1]
    sweep = _Sweep(bounds, opens)
    cuts = sorted(
        {t for t in (*bounds, *resets) if lo <= t <= hi}
        | {t for r in opens for t in r if lo <= t <= hi}
    )
    reset_set = {r for r in resets if lo < r <= hi}
    events = sorted((c for c in crossings if lo <= c.ts_ms < hi), key=lambda c: c.ts_ms)
    i = 0
    for cut in cuts:
        while i < len(events) and events[i].ts_ms < cut:
            sweep.advance(events[i].ts_ms)
            sweep.cross(events[i])
            i += 1
        sweep.advance(cut)
        if cut in reset_set:
            sweep.reset(cut)
        sweep.enter()
    return sweep.out
