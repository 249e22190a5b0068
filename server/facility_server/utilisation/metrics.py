"""The utilisation figures and their roll-up over hours, days, weeks, months, half years
(pure). The definitions are those of docs/metrics.md and are used everywhere:

- **visits**: people counted entering the space (people);
- **peak occupancy**: the highest occupancy at any moment (people);
- **open hours**: hours the space is open by its published hours (h);
- **occupied hours**: open hours with at least one person inside (h);
- **utilisation** (time): occupied hours / open hours x 100 (%);
- **occupancy rate** (capacity): mean occupancy while open / capacity x 100 (%), where
  mean occupancy = person-hours while open / open hours (people);
- **actual open hours / days**: from staff opening/closing check-ins or door activity
  (:mod:`facility_server.utilisation.actual`);
- **drift**: people still counted inside at closing, summed over days (people);
- **clamped**: people removed because occupancy would have gone negative (people).

A percentage is None when its denominator is 0 (never open, no capacity).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from facility_server.utilisation.periods import Grain, bucket_key


@dataclass
class Figures:
    """Sums over a set of hour or day rows (see the module docstring for units)."""

    visits: int = 0
    exits: int = 0
    peak: int = 0
    clamped: int = 0
    drift: int = 0
    open_min: float = 0.0
    occupied_min: float = 0.0
    person_min: float = 0.0
    actual_open_min: float = 0.0
    days: int = 0
    open_days: int = 0

    def add(self, row: Mapping[str, Any]) -> None:
        """Add one hour or day row (a mapping with the aggregate columns)."""
        self.visits += int(row.get("visits", 0))
        self.exits += int(row.get("exits", 0))
        self.peak = max(self.peak, int(row.get("peak", 0)))
        self.clamped += int(row.get("clamped", 0))
        self.drift += int(row.get("drift", 0) or 0)
        self.open_min += float(row.get("open_min", 0.0))
        self.occupied_min += float(row.get("occupied_min", 0.0))
        self.person_min += float(row.get("person_min", 0.0))
        actual = float(row.get("actual_open_min", 0.0) or 0.0)
        self.actual_open_min += actual
        if "day" in row:
            self.days += 1
            self.open_days += int(actual > 0)

    @property
    def utilisation_pct(self) -> float | None:
        """Occupied hours / open hours x 100 (%), None when never open."""
        return None if self.open_min <= 0 else 100.0 * self.occupied_min / self.open_min

    @property
    def mean_occupancy(self) -> float | None:
        """Mean people inside while open (people), None when never open."""
        return None if self.open_min <= 0 else self.person_min / self.open_min

    def occupancy_pct(self, capacity: int) -> float | None:
        """Mean occupancy while open / capacity x 100 (%), None without both."""
        mean = self.mean_occupancy
        return None if mean is None or capacity <= 0 else 100.0 * mean / capacity

    def as_json(self, capacity: int) -> dict[str, Any]:
        """JSON-ready figures (hours rounded to 0.01 h, percentages to 0.1 %)."""
        return {
            "visits": self.visits,
            "exits": self.exits,
            "peak_occupancy": self.peak,
            "open_h": round(self.open_min / 60, 2),
            "occupied_h": round(self.occupied_min / 60, 2),
            "actual_open_h": round(self.actual_open_min / 60, 2),
            "open_days": self.open_days,
            "utilisation_pct": _round(self.utilisation_pct),
            "mean_occupancy": _round(self.mean_occupancy, 2),
            "occupancy_pct": _round(self.occupancy_pct(capacity)),
            "drift": self.drift,
            "clamped": self.clamped,
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def total(rows: Iterable[Mapping[str, Any]]) -> Figures:
    """All rows summed."""
    out = Figures()
    for row in rows:
        out.add(row)
    return out


def rollup(days: Iterable[Mapping[str, Any]], grain: Grain) -> dict[str, tuple[date, Figures]]:
    """Day rows (with a ``day`` date) summed per ``grain`` period: key -> (first day, sums),
    in time order. Raises ValueError for the ``hour`` grain (use the hour rows)."""
    out: dict[str, tuple[date, Figures]] = {}
    for row in days:
        key, first = bucket_key(row["day"], grain)
        if key not in out:
            out[key] = (first, Figures())
        out[key][1].add(row)
    return dict(sorted(out.items(), key=lambda kv: kv[1][0]))
