"""End to end in one process: fake edge -> Mosquitto -> gateway -> VictoriaMetrics -> acks.

Each test has a private broker (the gateway subscribes to every site) and a unique site
id on the session VictoriaMetrics, or a private one when it stops the server.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from facility_cli.services import Mosquitto, VictoriaMetrics
from facility_contracts import codec
from facility_contracts.envelope import Status
from facility_gateway.app import Gateway
from facility_gateway.settings import load_settings
from gw_support import FakeEdge, door_event, notice_event, now_ms, vm_export, vm_wait_count

pytestmark = pytest.mark.integration


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """Start in-process gateways with test settings; stopped at the end."""
    running: list[Gateway] = []

    def start(broker: Mosquitto, vm: VictoriaMetrics, **overrides: Any) -> Gateway:
        settings = load_settings(
            **{
                "mqtt_port": broker.port,
                "mqtt_client_id": f"gw-{len(running)}",
                "influx_url": vm.url,
                "influx_query": "victoriametrics",
                "dedupe_url": f"sqlite:///{tmp_path / 'dedupe.sqlite'}",
                "claim_lease_s": 3,
                "flush_interval_s": 0.05,
                "retry_initial_s": 0.2,
                "retry_max_s": 1.0,
                "stats_file": tmp_path / "stats.json",
                "stats_interval_s": 1,
                **overrides,
            }
        )
        gateway = Gateway(settings)
        gateway.start()
        assert gateway.wait_connected(10)
        running.append(gateway)
        return gateway

    yield start
    for gateway in running:
        if gateway.worker.stopping.is_set():
            continue
        gateway.stop(10)


@pytest.fixture
def broker(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    """A private broker for this test."""
    return mosquitto_factory(persistence=False)


def test_every_event_acked_and_stored_once(
    broker: Mosquitto,
    victoria: VictoriaMetrics,
    site_id: str,
    start_gateway: Callable[..., Gateway],
) -> None:
    """2,000 events from 5 devices, a tenth of them sent twice: all acked, each stored once."""
    gateway = start_gateway(broker, victoria)
    edge = FakeEdge(broker.port, site_id)
    events = [door_event(f"dc-{i % 5}", i + 1) for i in range(2000)]
    edge.send(events)
    edge.send(events[::10])  # the edge resends some before the acks arrive
    notice = notice_event("dc-0", 5000, code="reconnected")
    edge.send([notice])
    edge.publish_raw(
        "edge-1",
        codec.encode_status(Status(device="edge-1", state="online", outbox=12)),
        channel="status",
    )
    assert edge.wait_acked([e.id for e in [*events, notice]], timeout_s=20)
    seqs = vm_wait_count(victoria.url, site_id, 2000)
    assert sorted(seqs) == list(range(1, 2001))
    assert len(vm_wait_count(victoria.url, site_id, 1, metric="device_notice_count")) == 1
    outbox = vm_export(victoria.url, f'{{__name__="device_status_outbox",site="{site_id}"}}')
    assert [r["values"] for r in outbox] == [[12]]
    stats = gateway.snapshot()
    assert stats["accepted"] == 2001 and stats["statuses"] == 1 and stats["rejected"] == {}
    edge.close()


def _event_json(**over: Any) -> bytes:
    msg: dict[str, Any] = {
        "v": 1,
        "id": "bad-00000001",
        "device": "dc-1",
        "boot": "b1",
        "seq": 1,
        "ts": now_ms(),
        "mono": 1,
        "synced": True,
        "kind": "door.crossing",
        "body": {"in": 1, "out": 0, "space": "hall"},
    }
    msg.update(over)
    return json.dumps(msg).encode()


BAD = [
    (b"\x00\xffnot json", "not_json"),
    (b"[1, 2, 3]", "wrong_type"),
    (_event_json(seq="7"), "wrong_type"),  # a number as a string
    (_event_json(body={"in": "2", "out": 0, "space": "hall"}), "wrong_type"),
    (_event_json(body={"in": 1.5, "out": 0, "space": "hall"}), "wrong_type"),
    (_event_json().replace(b'"mono": 1', b'"mono": NaN'), "wrong_type"),
    (b'{"v":1,"id":"bad-0000000x","device":"dc-1","boot":"b"' + b" " * 9000 + b"}", "too_large"),
    (_event_json(body={"in": 1, "out": 0}), "missing_field"),
    (json.dumps({"v": 1, "id": "bad-00000002", "device": "dc-1"}).encode(), "missing_field"),
    (_event_json(ts=now_ms() // 1000), "ts_in_seconds"),  # epoch seconds
    (_event_json(ts=86_400_000), "ts_in_seconds"),  # 1970-01-02, synced: the codec's rule
    (_event_json(ts=631_152_000_000), "ts_too_old"),  # 1990-01-01, synced
    (_event_json(ts=now_ms() + 86_400_000), "ts_in_future"),
    (_event_json(device="dc-2"), "device_mismatch"),  # published on dc-1's topic
    (_event_json(extra=1), "unknown_field"),
    (_event_json(kind="door.open"), "unknown_kind"),
]


def test_bad_payloads_rejected_and_good_ones_stored(
    broker: Mosquitto,
    victoria: VictoriaMetrics,
    site_id: str,
    start_gateway: Callable[..., Gateway],
) -> None:
    """Each bad payload is counted under its reason, nothing of it is written, the gateway
    keeps running and stores the good events sent around them."""
    gateway = start_gateway(broker, victoria)
    edge = FakeEdge(broker.port, site_id)
    good = [door_event("dc-1", i) for i in range(1, 41)]
    for k, (payload, _) in enumerate(BAD):
        edge.send(good[k * 2 : k * 2 + 2])
        edge.publish_raw("dc-1", payload)
    edge.publish_raw("edge-1", b'{"device":"edge-1","state":"online","uptime_s":NaN}', "status")
    edge.send(good[2 * len(BAD) :])
    assert edge.wait_acked([e.id for e in good], timeout_s=20)
    expected: dict[str, int] = {"not_finite": 1}
    for _, reason in BAD:
        expected[reason] = expected.get(reason, 0) + 1
    deadline = time.monotonic() + 5
    while gateway.stats.rejected() != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gateway.stats.rejected() == expected
    assert sorted(vm_wait_count(victoria.url, site_id, 40)) == list(range(1, 41))
    rows = vm_export(
        victoria.url, f'{{__name__=~"(door_crossing|device_status)_.*",site="{site_id}"}}'
    )
    assert {r["metric"]["__name__"] for r in rows} == {
        "door_crossing_in",
        "door_crossing_out",
        "door_crossing_seq",
    }
    assert {len(r["values"]) for r in rows} == {40}
    edge.close()


def test_store_outage_loses_nothing_and_memory_stays_bounded(
    broker: Mosquitto,
    victoria_factory: Callable[..., VictoriaMetrics],
    site_id: str,
    start_gateway: Callable[..., Gateway],
) -> None:
    """VictoriaMetrics stopped while 1,500 events arrive: the queue never exceeds its bound
    (excess shed), and after the restart every event is stored exactly once."""
    vm = victoria_factory()
    gateway = start_gateway(broker, vm, queue_max=200, batch_size=100)
    edge = FakeEdge(broker.port, site_id)
    before = [door_event(f"dc-{i % 3}", i + 1) for i in range(300)]
    edge.send(before)
    assert edge.wait_acked([e.id for e in before], timeout_s=15)
    vm.stop()  # politely, so it keeps what it already acknowledged
    during = [door_event(f"dc-{i % 3}", i + 301) for i in range(1500)]
    edge.send(during)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert len(gateway.queue) <= 200
        time.sleep(0.01)
    assert not edge.acked & {e.id for e in during}
    vm.start()
    assert edge.wait_acked([e.id for e in during], timeout_s=45, resend_every_s=2)
    assert sorted(vm_wait_count(vm.url, site_id, 1800)) == list(range(1, 1801))
    stats = gateway.snapshot()
    assert stats["queue_high_water"] <= 200 < stats["shed"] + stats["queue_high_water"]
    assert stats["write_retries"] > 0 and stats["accepted"] == 1800
    edge.close()


def test_mqtt5_session(
    broker: Mosquitto,
    victoria: VictoriaMetrics,
    site_id: str,
    start_gateway: Callable[..., Gateway],
) -> None:
    """Over MQTT 5 (clean_start false, session expiry) events are stored and acked too."""
    gateway = start_gateway(broker, victoria, mqtt_protocol="5")
    edge = FakeEdge(broker.port, site_id)
    events = [door_event("dc-5", i) for i in range(1, 101)]
    edge.send(events)
    assert edge.wait_acked([e.id for e in events], timeout_s=15)
    assert sorted(vm_wait_count(victoria.url, site_id, 100)) == list(range(1, 101))
    assert gateway.snapshot()["accepted"] == 100
    edge.close()


def health_event(device: str, seq: int, member: str) -> Any:
    """A health.reading of ``member`` (a pseudonym) with a blood pressure session."""
    readings = [
        {"type": "systolic_bp", "value": 187.0, "unit": "mmHg", "loinc": "8480-6"},
        {"type": "diastolic_bp", "value": 96.0, "unit": "mmHg", "loinc": "8462-4"},
    ]
    body = {"member": member, "space": "elderly-care", "readings": readings}
    data = _event_json(
        id=f"hr-{uuid.uuid4()}", device=device, seq=seq, kind="health.reading", body=body
    )
    return codec.decode_event(data)


def test_health_readings_are_acked_but_never_written(
    broker: Mosquitto,
    victoria: VictoriaMetrics,
    site_id: str,
    start_gateway: Callable[..., Gateway],
) -> None:
    """health.reading events are confirmed (the edge deletes them) but no point is written:
    the site's only series are the control door counter's; no pseudonym, value or kiosk."""
    gateway = start_gateway(broker, victoria)
    edge = FakeEdge(broker.port, site_id)
    members = [f"m1-{uuid.uuid4().hex}" for _ in range(5)]
    readings = [health_event("kiosk-elder-1", i + 1, members[i % 5]) for i in range(25)]
    control = door_event("dc-1", 1)
    edge.send([*readings, control])
    assert edge.wait_acked([e.id for e in [*readings, control]], timeout_s=20)
    assert vm_wait_count(victoria.url, site_id, 1) == [1]
    rows = vm_export(victoria.url, f'{{site="{site_id}"}}')
    names = {r["metric"]["__name__"] for r in rows}
    assert names == {"door_crossing_in", "door_crossing_out", "door_crossing_seq"}
    stored = json.dumps(rows)
    assert not any(m in stored for m in members)
    assert "kiosk-elder-1" not in stored and "187" not in stored
    assert gateway.snapshot()["rejected"] == {}
    edge.close()
