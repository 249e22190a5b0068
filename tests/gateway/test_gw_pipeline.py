"""The worker and the intake with hand-written fakes: no broker, no time-series server."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from facility_contracts import codec
from facility_contracts.envelope import Status
from facility_contracts.topics import ack_topic, parse_topic
from facility_gateway.dedupe import DedupeStore
from facility_gateway.errors import StoreRejected, StoreUnavailable
from facility_gateway.intake import Inbound, Intake, IntakeQueue
from facility_gateway.mapping import event_point
from facility_gateway.pipeline import Worker, WorkerConfig
from facility_gateway.points import Point
from facility_gateway.stats import Stats, write_json_atomic
from gw_support import door_event, now_ms

SITE = "xh-01"


class FakeWriter:
    """Records writes; raises the queued errors first; knows what it stored."""

    def __init__(
        self, errors: Sequence[Exception] = (), refuse: Callable[[Point], bool] | None = None
    ):
        self.errors = list(errors)
        self.refuse = refuse
        self.writes: list[list[Point]] = []
        self.stored: set[Point] = set()
        self.existing_calls = 0

    def write(self, points: Sequence[Point]) -> None:
        if self.errors:
            raise self.errors.pop(0)
        if self.refuse and any(self.refuse(p) for p in points):
            raise StoreRejected("HTTP 400: field type conflict")
        self.writes.append(list(points))
        self.stored.update(points)

    def existing(self, points: Sequence[Point]) -> set[Point]:
        self.existing_calls += 1
        return {p for p in points if p in self.stored}

    def close(self) -> None:
        pass


class Acks:
    """Records published confirmations as {topic: [ids...]}."""

    def __init__(self) -> None:
        self.by_topic: dict[str, list[str]] = {}
        self.rejected: dict[str, dict[str, str]] = {}

    def __call__(self, topic: str, payload: bytes) -> None:
        ack = codec.decode_ack(payload)
        if ack.ids:
            self.by_topic.setdefault(topic, []).extend(ack.ids)
        if ack.rejected:
            self.rejected.setdefault(topic, {}).update(ack.rejected)

    def all_ids(self) -> list[str]:
        return [i for ids in self.by_topic.values() for i in ids]


class Rig:
    """A worker wired to fakes and a real SQLite dedupe store."""

    def __init__(
        self, tmp: Path, writer: FakeWriter | None = None, owner: str = "gw-test", **config: object
    ) -> None:
        self.stats = Stats()
        self.queue = IntakeQueue(100)
        self.intake = Intake(self.queue, self.stats)
        self.dedupe = DedupeStore(f"sqlite:///{tmp / 'dedupe.sqlite'}")
        self.writer = writer or FakeWriter()
        self.acks = Acks()
        cfg = WorkerConfig(
            owner=owner, lease_s=2.0, retry_initial_s=0.01, retry_max_s=0.05, **config
        )  # type: ignore[arg-type]
        self.worker = Worker(
            self.queue, self.intake, self.dedupe, self.writer, self.acks, self.stats, cfg
        )

    def inbound(self, *events: object, dup: bool = False) -> list[Inbound]:
        return [
            Inbound(parse_topic(f"facility/v1/{SITE}/{e.device}/evt"), e, now_ms(), dup)  # type: ignore[attr-defined]
            for e in events
        ]


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def test_batch_written_once_and_acked_per_device(rig: Rig) -> None:
    """One write for the batch; each device gets one ack with exactly its ids."""
    a = [door_event("dc-a", i) for i in range(1, 4)]
    b = [door_event("dc-b", i) for i in range(1, 3)]
    rig.worker.process(rig.inbound(*a, *b))
    assert len(rig.writer.writes) == 1 and len(rig.writer.writes[0]) == 5
    assert rig.acks.by_topic == {
        ack_topic(SITE, "dc-a"): sorted(e.id for e in a),
        ack_topic(SITE, "dc-b"): sorted(e.id for e in b),
    }
    assert (
        rig.stats.get("accepted"),
        rig.stats.get("acked"),
        rig.stats.get("written_batches"),
    ) == (5, 5, 1)


def test_stored_ids_acked_again_without_writing(rig: Rig) -> None:
    """A resent batch is confirmed again and not written a second time."""
    events = [door_event("dc-a", i) for i in range(1, 4)]
    rig.worker.process(rig.inbound(*events))
    rig.worker.process(rig.inbound(*events, dup=True))
    assert len(rig.writer.writes) == 1
    assert sorted(rig.acks.all_ids()) == sorted([e.id for e in events] * 2)
    assert rig.stats.get("duplicate") == 3


def test_repeat_inside_one_batch(rig: Rig) -> None:
    """The same id twice in one batch is written and acked once, counted as duplicate."""
    ev = door_event("dc-a", 1)
    rig.worker.process(rig.inbound(ev, ev))
    assert [len(w) for w in rig.writer.writes] == [1]
    assert rig.acks.all_ids() == [ev.id] and rig.stats.get("duplicate") == 1


def test_ids_claimed_by_a_live_gateway_are_left_alone(rig: Rig) -> None:
    """Ids another gateway holds are neither written nor acked (the edge resends)."""
    ev, other = door_event("dc-a", 1), door_event("dc-a", 2)
    rig.dedupe.claim([ev.id], "gw-other", lease_s=60)
    rig.worker.process(rig.inbound(ev, other))
    assert rig.acks.all_ids() == [other.id]
    assert rig.stats.get("redelivered") == 1


def test_in_doubt_ids_checked_against_the_store(tmp_path: Path) -> None:
    """Ids whose claim expired are written only when the store lacks them; all are acked."""
    rig = Rig(tmp_path)
    there, missing = door_event("dc-a", 1), door_event("dc-a", 2)
    rig.worker.process(rig.inbound(there))  # written by "a previous gateway"...
    rig.dedupe.claim([there.id, missing.id], "gw-dead", lease_s=0)  # ...which died
    rig.dedupe.engine.dispose()
    with rig.dedupe.engine.begin() as conn:  # its claims: expired, not stored
        conn.execute(
            rig.dedupe.table.update().values(state="claimed", owner="gw-dead", lease_until_ms=0)
        )
    rig.acks.by_topic.clear()
    rig.worker.process(rig.inbound(there, missing))
    assert [len(w) for w in rig.writer.writes] == [1, 1]  # only `missing` rewritten
    assert sorted(rig.acks.all_ids()) == sorted([there.id, missing.id])
    assert rig.stats.get("in_doubt") == 2 and rig.writer.existing_calls == 1


def test_in_doubt_estimated_time_uses_the_first_claims_time(tmp_path: Path) -> None:
    """An unsynced event whose time was estimated from its receive time, written by a
    gateway that died before confirming, is found at its first time and not rewritten
    although it arrives again later (a later estimate)."""
    rig = Rig(tmp_path)
    ev = door_event("dc-a", 9, synced=False, ts=5_000)  # 1970 clock, no `sent`
    first_receipt = now_ms() - 30_000
    first = event_point(parse_topic(f"facility/v1/{SITE}/dc-a/evt"), ev, first_receipt, now_ms())
    assert dict(first.tags)["clock"] == "estimated"
    rig.dedupe.claim([ev.id], "gw-dead", lease_s=0, times={ev.id: first.time_ns})
    rig.writer.stored.add(first)  # it wrote, then died
    rig.worker.process(rig.inbound(ev))  # redelivered now: a new estimate
    assert rig.writer.writes == [] and rig.acks.all_ids() == [ev.id]
    assert rig.stats.get("in_doubt") == 1 and rig.stats.get("duplicate") == 1


def test_store_outage_retries_same_batch(tmp_path: Path) -> None:
    """StoreUnavailable is retried with backoff until the batch is written, never dropped."""
    writer = FakeWriter(errors=[StoreUnavailable("down")] * 3)
    rig = Rig(tmp_path, writer)
    events = [door_event("dc-a", i) for i in range(1, 6)]
    rig.worker.process(rig.inbound(*events))
    assert [len(w) for w in writer.writes] == [5]
    assert sorted(rig.acks.all_ids()) == sorted(e.id for e in events)
    assert rig.stats.get("write_retries") == 3


def test_refused_point_isolated_by_splitting(tmp_path: Path) -> None:
    """A point the store refuses is found by halving; the rest are stored and acked."""
    bad = door_event("dc-a", 3)
    writer = FakeWriter(refuse=lambda p: dict(p.fields)["seq"] == 3)
    rig = Rig(tmp_path, writer)
    events = (
        [door_event("dc-a", i) for i in range(1, 3)]
        + [bad]
        + [door_event("dc-a", i) for i in range(4, 9)]
    )
    rig.worker.process(rig.inbound(*events))
    assert sorted(rig.acks.all_ids()) == sorted(e.id for e in events if e is not bad)
    assert sum(len(w) for w in writer.writes) == 7
    assert rig.stats.rejected() == {"store_rejected": 1}
    assert rig.dedupe.claim([bad.id], "gw-next", 1).new == {bad.id}  # claim released
    assert rig.acks.rejected == {f"facility/v1/{SITE}/dc-a/ack": {bad.id: "store_rejected"}}


def test_mapping_rejections_counted(rig: Rig) -> None:
    """Events refused by the mapping are counted by reason, not written, and confirmed as
    rejected."""
    good = door_event("dc-a", 1)
    wrong_device = door_event("dc-b", 2)
    future = door_event("dc-a", 3, ts=now_ms() + 3_600_000)
    items = rig.inbound(good, future)
    items.append(
        Inbound(parse_topic(f"facility/v1/{SITE}/dc-a/evt"), wrong_device, now_ms(), False)
    )
    rig.worker.process(items)
    assert rig.acks.all_ids() == [good.id]
    assert rig.stats.rejected() == {"device_mismatch": 1, "ts_in_future": 1}
    assert rig.acks.rejected == {
        f"facility/v1/{SITE}/dc-a/ack": {
            future.id: "ts_in_future",
            wrong_device.id: "device_mismatch",
        }
    }


def test_status_points_written_without_acks(rig: Rig) -> None:
    """Status messages become device_status points and are never acked."""
    status = Status(device="edge-1", state="online", uptime_s=3.0)
    item = Inbound(parse_topic(f"facility/v1/{SITE}/edge-1/status"), status, now_ms(), False)
    rig.worker.process([item])
    assert [p.measurement for p in rig.writer.writes[0]] == ["device_status"]
    assert rig.acks.by_topic == {} and rig.stats.get("statuses") == 1


def test_stop_during_outage_gives_up_unconfirmed(tmp_path: Path) -> None:
    """After stop, a batch the store keeps refusing is given up: nothing acked, claims freed."""
    writer = FakeWriter(errors=[StoreUnavailable("down")] * 1000)
    rig = Rig(tmp_path, writer, stop_grace_s=0.1)
    ev = door_event("dc-a", 1)
    rig.worker.request_stop()
    rig.worker.process_safely(rig.inbound(ev))
    assert rig.acks.all_ids() == [] and writer.writes == []
    assert rig.dedupe.claim([ev.id], "gw-next", 1).new == {ev.id}


BAD_PAYLOADS = [
    (b"not json at all", "not_json"),
    (b'{"v":1,"id":"evt-00000001"', "not_json"),
    (
        json.dumps(
            {
                "v": 1,
                "id": "evt-00000001",
                "device": "dc-a",
                "boot": "b",
                "seq": "5",
                "ts": 1764403200000,
                "mono": 1,
                "synced": True,
                "kind": "door.crossing",
                "body": {"in": 1, "out": 0, "space": "hall"},
            }
        ).encode(),
        "wrong_type",
    ),
    (
        b'{"v":1,"id":"evt-00000001","device":"dc-a","boot":"b","seq":5,"ts":NaN,"mono":1,'
        b'"synced":true,"kind":"door.crossing","body":{"in":1,"out":0,"space":"hall"}}',
        "wrong_type",
    ),
    (
        json.dumps(
            {
                "v": 1,
                "id": "evt-00000001",
                "device": "dc-a",
                "boot": "b",
                "seq": 5,
                "ts": 1764403200,
                "mono": 1,
                "synced": True,
                "kind": "door.crossing",
                "body": {"in": 1, "out": 0, "space": "hall"},
            }
        ).encode(),
        "ts_in_seconds",
    ),
    (b"x" * 9000, "too_large"),
]


@pytest.mark.parametrize(("payload", "reason"), BAD_PAYLOADS)
def test_intake_rejects_bad_payloads(rig: Rig, payload: bytes, reason: str) -> None:
    """The intake refuses malformed payloads with the codec's reason and queues nothing."""
    rig.intake.handle(f"facility/v1/{SITE}/dc-a/evt", payload, False)
    assert rig.stats.rejected() == {reason: 1} and len(rig.queue) == 0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"device":"edge-1","state":"online","uptime_s":NaN}', "not_finite"),
        (b'{"device":"edge-1","state":"online","uptime_s":Infinity}', "not_finite"),
        (b'{"device":"edge-1"}', "missing_field"),
    ],
)
def test_intake_rejects_bad_status(rig: Rig, payload: bytes, reason: str) -> None:
    """Status payloads are checked too: NaN/Infinity floats and missing fields are refused."""
    rig.intake.handle(f"facility/v1/{SITE}/edge-1/status", payload, False)
    assert rig.stats.rejected() == {reason: 1} and len(rig.queue) == 0


def test_intake_sheds_when_full(tmp_path: Path) -> None:
    """Beyond the bound messages are dropped (shed) without decoding; the queue never grows."""
    stats = Stats()
    queue = IntakeQueue(3)
    intake = Intake(queue, stats)
    for seq in range(1, 11):
        intake.handle(
            f"facility/v1/{SITE}/dc-a/evt", codec.encode_event(door_event("dc-a", seq)), seq == 1
        )
    assert (len(queue), stats.get("shed"), stats.get("redelivered")) == (3, 7, 1)
    assert [i.message.seq for i in queue.take(10, 0.0)] == [1, 2, 3]  # type: ignore[union-attr]


def test_intake_rejects_bad_topic_and_ignores_after_close(rig: Rig) -> None:
    """A topic outside the scheme is rejected; once closed the intake takes nothing."""
    rig.intake.handle("facility/v1/Bad Site/dc-a/evt", b"{}", False)
    assert rig.stats.rejected() == {"bad_topic": 1}
    rig.intake.closed = True
    rig.intake.handle(
        f"facility/v1/{SITE}/dc-a/evt", codec.encode_event(door_event("dc-a", 1)), False
    )
    assert len(rig.queue) == 0


def test_stats_file_written_atomically(tmp_path: Path) -> None:
    """The stats JSON is replaced whole and carries counters and UTC times."""
    stats = Stats()
    stats.add(accepted=5)
    stats.reject("not_json", 2)
    path = tmp_path / "sub" / "stats.json"
    write_json_atomic(path, stats.snapshot())
    data = json.loads(path.read_text())
    assert (data["accepted"], data["rejected"]) == (5, {"not_json": 2})
    assert data["started_at"].endswith("+00:00")
    assert [p.name for p in path.parent.iterdir()] == ["stats.json"]
