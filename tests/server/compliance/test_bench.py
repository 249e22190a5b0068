"""The compliance benchmark function runs end to end (at a small scale here)."""

from __future__ import annotations

from facility_server.bench_compliance import RULES, run


def test_bench_compliance_small(db_url: str) -> None:
    """run() equips 2 x 2 x 3 = 12 complexes with 10 rules each and reports both figures."""
    result = run(db_url, shape=(2, 2, 3), arrivals=20)
    assert (result["complexes"], result["rules"]) == (12, 12 * len(RULES)) == (12, 120)
    # per complex and day: 4 disinfections + 9 + 5 patrol rounds + 4 quota periods
    assert result["occurrences"] == 12 * 22
    assert result["tick_s"] > 0 and result["tick_cold_s"] > 0 and result["checkins_per_s"] > 0
    assert 0 < result["alerts"] < result["occurrences"]
