"""ErrorStreak: a repeating failure is new once, repeats stay quiet, recovery ends it."""

from __future__ import annotations

from facility_edge.errors import ErrorStreak


def test_a_streak_is_new_once_per_distinct_error_and_counts_until_recovered() -> None:
    streak = ErrorStreak()
    assert streak.recovered() is None  # nothing had failed
    assert [streak.failed(e) for e in ("disk", "disk", "disk", "lock", "lock")] == [
        True,
        False,
        False,
        True,
        False,
    ]
    assert streak.recovered() == 5
    assert streak.recovered() is None  # ended: a second recovery reports nothing
    assert streak.failed("disk") is True  # a new streak starts afresh
