"""The satisfaction rate (pure).

rate = (very satisfied + satisfied) / all votes x 100 (%), per service (space) and
period; None without votes. A service under :data:`THRESHOLD_PCT` with at least
``min_votes`` votes must be rectified (4+5+X management rules: "满意度低于80%的服务
项目须进行调整").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RATINGS = ("very_satisfied", "satisfied", "dissatisfied", "very_dissatisfied")
POSITIVE = frozenset({"very_satisfied", "satisfied"})
THRESHOLD_PCT = 80.0
#: Fewest votes in a period for a rate to open a rectification item (a handful of
#: presses is no survey); the rate itself is always reported.
DEFAULT_MIN_VOTES = 10


@dataclass
class Tally:
    """Votes of one service in one period, by rating."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RATINGS, 0))

    def add(self, rating: str, n: int = 1) -> None:
        """Count ``n`` votes of ``rating``.

        Raises:
            ValueError: an unknown rating.
        """
        if rating not in self.counts:
            raise ValueError(f"unknown rating {rating!r}")
        self.counts[rating] += n

    @property
    def votes(self) -> int:
        """All votes."""
        return sum(self.counts.values())

    @property
    def rate_pct(self) -> float | None:
        """(very satisfied + satisfied) / all x 100 (%), None without votes."""
        votes = self.votes
        if not votes:
            return None
        return 100.0 * sum(self.counts[r] for r in POSITIVE) / votes

    def below(self, min_votes: int = DEFAULT_MIN_VOTES) -> bool:
        """True when the rate is under 80% on at least ``min_votes`` votes."""
        rate = self.rate_pct
        return rate is not None and self.votes >= min_votes and rate < THRESHOLD_PCT

    def as_json(self) -> dict[str, Any]:
        """Counts, total and rate (0.1 %)."""
        rate = self.rate_pct
        return {
            **self.counts,
            "votes": self.votes,
            "rate_pct": None if rate is None else round(rate, 1),
        }


def tally(counts: Mapping[str, int]) -> Tally:
    """A tally from ``{rating: votes}``."""
    out = Tally()
    for rating, n in counts.items():
        out.add(rating, n)
    return out
