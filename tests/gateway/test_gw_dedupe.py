"""The shared dedupe store: one suite on SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from facility_gateway.dedupe import CLAIMED, STORED, DedupeStore

pytestmark = pytest.mark.integration

BACKENDS = ["sqlite", "postgres"]
T0 = 1_764_403_200_000
DAY = 86_400_000


class Clock:
    """A settable wall clock in UTC epoch ms."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture(params=BACKENDS)
def make(
    request: pytest.FixtureRequest, dedupe_factory: Callable[..., DedupeStore]
) -> Callable[..., DedupeStore]:
    """Stores on one backend sharing one table (as two gateways would)."""
    return lambda **kw: dedupe_factory(request.param, **kw)


def ids(n: int, prefix: str = "evt") -> list[str]:
    return [f"{prefix}-{i:08d}" for i in range(n)]


def test_new_ids_are_claimed(make: Callable[..., DedupeStore]) -> None:
    """Unknown ids come back new and are recorded as claimed by the owner."""
    clock = Clock()
    store = make(clock=clock)
    claims = store.claim(ids(3), "gw-a", lease_s=10)
    assert claims.new == set(ids(3)) and not (claims.stored | claims.busy | claims.in_doubt)
    rec = store.records(ids(3))
    assert {r.state for r in rec.values()} == {CLAIMED}
    assert {(r.owner, r.lease_until_ms) for r in rec.values()} == {("gw-a", T0 + 10_000)}


def test_live_claim_of_another_owner_is_busy(make: Callable[..., DedupeStore]) -> None:
    """An id claimed by another gateway whose lease runs is left alone (busy)."""
    clock = Clock()
    a, b = make(clock=clock), make(clock=clock)
    a.claim(ids(2), "gw-a", 10)
    clock.now += 9_999
    claims = b.claim(ids(3), "gw-b", 10)
    assert claims.busy == set(ids(2)) and claims.new == {ids(3)[2]}


def test_expired_claim_is_in_doubt_and_taken_over(make: Callable[..., DedupeStore]) -> None:
    """After the lease expires the id is in doubt and the new owner holds it."""
    clock = Clock()
    a, b = make(clock=clock), make(clock=clock)
    a.claim(ids(2), "gw-a", 10)
    clock.now += 10_000
    claims = b.claim(ids(2), "gw-b", 10)
    assert claims.in_doubt == set(ids(2))
    assert {r.owner for r in b.records(ids(2)).values()} == {"gw-b"}
    assert a.claim(ids(2), "gw-a", 10).busy == set(ids(2))


def test_own_claim_is_in_doubt(make: Callable[..., DedupeStore]) -> None:
    """An id this owner already holds is in doubt (it may have written it)."""
    store = make(clock=Clock())
    store.claim(ids(1), "gw-a", 10)
    assert store.claim(ids(1), "gw-a", 10).in_doubt == set(ids(1))


def test_stored_ids_are_reported_stored(make: Callable[..., DedupeStore]) -> None:
    """Stored ids stay stored whoever asks, and the record drops owner and lease."""
    clock = Clock()
    store = make(clock=clock)
    store.claim(ids(4), "gw-a", 10)
    store.mark_stored(ids(4)[:3])
    claims = make(clock=clock).claim(ids(4), "gw-b", 10)
    assert claims.stored == set(ids(4)[:3]) and claims.busy == {ids(4)[3]}
    rec = store.records(ids(4)[:1])[ids(4)[0]]
    assert (rec.state, rec.owner, rec.lease_until_ms) == (STORED, None, None)


def test_renew_extends_only_own_claims(make: Callable[..., DedupeStore]) -> None:
    """Renewing keeps the ids busy for others past the first lease."""
    clock = Clock()
    a, b = make(clock=clock), make(clock=clock)
    a.claim(ids(3), "gw-a", 10)
    clock.now += 8_000
    assert a.renew(ids(3), "gw-a", 10) == 3
    assert b.renew(ids(3), "gw-b", 10) == 0
    clock.now += 8_000  # 16 s after the claim, 8 s after the renewal
    assert b.claim(ids(3), "gw-b", 10).busy == set(ids(3))


def test_release_frees_ids(make: Callable[..., DedupeStore]) -> None:
    """Released ids are new again for anyone; others' claims are untouched."""
    clock = Clock()
    a, b = make(clock=clock), make(clock=clock)
    a.claim(ids(2), "gw-a", 10)
    b.release(ids(2), "gw-b")
    assert b.claim(ids(2), "gw-b", 10).busy == set(ids(2))
    a.release(ids(2), "gw-a")
    assert b.claim(ids(2), "gw-b", 10).new == set(ids(2))


def test_prune_deletes_old_records(make: Callable[..., DedupeStore]) -> None:
    """Records older than the window go, younger ones stay (checked in chunks)."""
    clock = Clock()
    store = make(clock=clock)
    store.claim(ids(5, "old"), "gw-a", 10)
    store.mark_stored(ids(5, "old"))
    clock.now += 20 * DAY
    store.claim(ids(2, "new"), "gw-a", 10)
    clock.now += 11 * DAY  # old: 31 days, new: 11 days
    assert store.prune(30, chunk=2) == 5
    assert set(store.records(ids(5, "old") + ids(2, "new"))) == set(ids(2, "new"))


def test_large_batch_in_one_call(make: Callable[..., DedupeStore]) -> None:
    """Five thousand ids are claimed, sorted and marked in single calls."""
    store = make(clock=Clock())
    many = ids(5000)
    assert len(store.claim(many + many[:10], "gw-a", 10).new) == 5000
    store.mark_stored(many)
    assert store.claim(many, "gw-b", 10).stored == set(many)


def test_concurrent_claims_each_id_once(make: Callable[..., DedupeStore]) -> None:
    """Four gateways claiming overlapping ids at once: every id is new for exactly one."""
    stores = [make() for _ in range(4)]
    wanted = ids(2000)
    results: list[set[str]] = [set() for _ in stores]
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            for start in range(0, 2000, 250):
                part = wanted[start : start + 400]  # overlaps the next slice
                results[k] |= stores[k].claim(part[::-1] if k % 2 else part, f"gw-{k}", 30).new
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(len(r) for r in results) == 2000
    assert set().union(*results) == set(wanted)


def test_in_doubt_ids_return_the_first_point_time(make: Callable[..., DedupeStore]) -> None:
    """The point time recorded by the first claim comes back for ids in doubt only."""
    clock = Clock()
    a, b = make(clock=clock), make(clock=clock)
    first = {"evt-00000001": 1_764_403_200_000_000_001, "evt-00000002": 5}
    a.claim([*first, "evt-00000003"], "gw-a", 10, times=first)
    a.mark_stored(["evt-00000002"])
    clock.now += 10_000
    later = {i: 99 for i in [*first, "evt-00000003"]}
    claims = b.claim(later, "gw-b", 10, times=later)
    assert claims.in_doubt == {"evt-00000001", "evt-00000003"}
    assert claims.times == {"evt-00000001": 1_764_403_200_000_000_001}  # 3 had no time
