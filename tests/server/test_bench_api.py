"""The API benchmark function runs end to end (at a small scale here)."""

from __future__ import annotations

from facility_server.bench_api import run


def test_bench_run_small(db_url: str) -> None:
    """run() registers the city and returns both p95 latencies (1 x 2 x 3 = 6 complexes)."""
    result = run(db_url, requests=20, shape=(1, 2, 3))
    assert (result["complexes"], result["spaces"], result["devices"]) == (6, 72, 78)
    assert result["p95_ms_complex_today"] > 0
    assert result["p95_ms_district_devices"] > 0
