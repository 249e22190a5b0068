"""The compliance benchmark function runs end to end (at a small scale here)."""

from __future__ import annotations

from facility_server.bench_compliance import RULES, run


def test_bench_compliance_small(db_url: str) -> None:
    """run() equips 2 x 2 x 3 = 12 complexes with 10 rules each and reports every figure;
    each repeated first tick writes the whole day again."""
    result = run(db_url, shape=(2, 2, 3), arrivals=20, repeats=2)
    assert (result["complexes"], result["rules"]) == (12, 12 * len(RULES)) == (12, 120)
    # per complex and day: 4 disinfections + 9 + 5 patrol rounds + 4 quota periods
    assert result["occurrences"] == 12 * 22
    ticks = [result[k] for k in ("tick_first_s", "tick_restart_s", "tick_warm_s")]
    assert result["tick_s"] == max(ticks) and min(ticks) > 0
    assert result["floor_s"] > 0 and result["repeats"] == 2 and result["checkins_per_s"] > 0
    runs = result["runs"]  # [first, warm, restart, floor] per run
    assert len(runs) == 2 and result["floor_s"] == round(min(r[3] for r in runs), 4)
    best_first = min(r[0] for r in runs)
    assert result["tick_first_s"] == round(best_first, 3)
    assert result["tick_floor_ratio"] == round(best_first / min(r[3] for r in runs), 2)
    assert 0 < result["alerts"] < result["occurrences"]
