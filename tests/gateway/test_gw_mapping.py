"""Envelope -> point mapping: time rules, reasons, exact lines (pure, no servers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from facility_contracts import codec
from facility_contracts.errors import ContractError
from facility_contracts.topics import parse_topic
from facility_gateway.mapping import TimeRules, event_point, status_point
from facility_gateway.points import to_line

NOW = 1764403200000  # 2025-11-29T08:00:00Z
MIN_2000 = 946684800000  # 2000-01-01T00:00:00Z
TOPIC = parse_topic("facility/v1/xh-01/dc-main/evt")
STATUS_TOPIC = parse_topic("facility/v1/xh-01/edge-1/status")


def door(**over: Any) -> Any:
    """Decode (through the contract codec) a door.crossing with overrides."""
    msg: dict[str, Any] = {
        "v": 1,
        "id": "evt-00000001",
        "device": "dc-main",
        "boot": "b1",
        "seq": 42,
        "ts": NOW - 1000,
        "mono": 5000,
        "synced": True,
        "kind": "door.crossing",
        "body": {"in": 2, "out": 0, "space": "culture-1"},
    }
    msg.update(over)
    return codec.decode_event(json.dumps(msg))


def line(event: Any, received: int = NOW, now: int = NOW) -> str:
    return to_line(event_point(TOPIC, event, received, now))


TIME_CASES = [
    # (overrides, received_ms, expected ms, expected clock)
    ({}, NOW, NOW - 1000, "synced"),
    ({"ts": NOW + 300_000}, NOW, NOW + 300_000, "synced"),  # exactly 5 min ahead is allowed
    ({"ts": MIN_2000}, NOW, MIN_2000, "synced"),  # the earliest plausible ms
    ({"synced": False, "sent": 10_000, "mono": 4_000}, NOW - 50, NOW - 50 - 6_000, "estimated"),
    ({"synced": False, "sent": 100, "mono": 500}, NOW - 50, NOW - 50, "estimated"),  # sent < mono
    ({"synced": False, "ts": NOW - 7_200_000}, NOW, NOW - 7_200_000, "unsynced"),
    ({"synced": False, "ts": 5_000}, NOW - 20, NOW - 20, "estimated"),  # 1970, no sent
    ({"synced": False, "ts": NOW + 3_600_000}, NOW - 20, NOW - 20, "estimated"),  # 1 h ahead
    ({"synced": False, "ts": 5_000, "sent": 9_000, "mono": 9_000}, NOW, NOW, "estimated"),
    # a receive time ahead of the clock is capped at now + 5 min
    ({"synced": False, "ts": 5_000}, NOW + 600_000, NOW + 300_000, "estimated"),
]


@pytest.mark.parametrize(("over", "received", "ms", "clock"), TIME_CASES)
def test_time_rules(over: dict[str, Any], received: int, ms: int, clock: str) -> None:
    """The point time and clock tag follow the architecture's time table."""
    expected = (
        f"door_crossing,clock={clock},device=dc-main,site=xh-01,space=culture-1 "
        f"in=2i,out=0i,seq=42i {ms * 1_000_000 + 42}"
    )
    assert line(door(**over), received=received) == expected


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"ts": NOW + 300_001}, "ts_in_future"),
        ({"ts": NOW + 86_400_000 * 365}, "ts_in_future"),
        ({"ts": MIN_2000 - 1}, "ts_too_old"),
        ({"ts": 631152000000}, "ts_too_old"),  # 1990-01-01, synced
        ({"device": "dc-other"}, "device_mismatch"),
    ],
)
def test_rejections(over: dict[str, Any], reason: str) -> None:
    """Implausible synced times and a device that differs from the topic are refused."""
    with pytest.raises(ContractError) as info:
        event_point(TOPIC, door(**over), NOW, NOW)
    assert info.value.reason == reason


def test_min_plausible_time_is_configurable() -> None:
    """A later minimum plausible time rejects synced events before it."""
    rules = TimeRules.from_datetime(datetime(2020, 1, 1, tzinfo=UTC))
    ok = door(ts=1577836800000)  # 2020-01-01T00:00:00Z
    assert event_point(TOPIC, ok, NOW, NOW, rules).time_ns == 1577836800000 * 10**6 + 42
    with pytest.raises(ContractError, match="ts_too_old"):
        event_point(TOPIC, door(ts=1577836799999), NOW, NOW, rules)


def test_naive_min_time_refused() -> None:
    """A naive minimum time is a programming error."""
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeRules.from_datetime(datetime(2020, 1, 1))  # noqa: DTZ001


def test_seq_modulo_million_in_nanoseconds() -> None:
    """The point time adds seq % 10**6 ns so same-ms events of one device differ."""
    point = event_point(TOPIC, door(seq=1_234_567), NOW, NOW)
    assert point.time_ns == (NOW - 1000) * 1_000_000 + 234_567


def test_space_ids_are_restricted_by_the_contract() -> None:
    """A space id with a blank is refused by the codec, so tags rarely need escaping."""
    with pytest.raises(ContractError):
        door(body={"in": 1, "out": 0, "space": "reading room"})


def test_notice_point() -> None:
    """A device.notice becomes device_notice with count=1 and seq."""
    notice = codec.decode_event(
        json.dumps(
            {
                "v": 1,
                "id": "evt-00000002",
                "device": "dc-main",
                "boot": "b1",
                "seq": 7,
                "ts": NOW - 5,
                "mono": 1,
                "synced": True,
                "kind": "device.notice",
                "body": {"code": "wrap", "detail": "counter wrapped"},
            }
        )
    )
    assert to_line(event_point(TOPIC, notice, NOW, NOW)) == (
        f"device_notice,code=wrap,device=dc-main,site=xh-01 count=1i,seq=7i {(NOW - 5) * 10**6 + 7}"
    )


def _event(kind: str, body: dict[str, Any], seq: int = 9) -> Any:
    return codec.decode_event(
        json.dumps(
            {
                "v": 1,
                "id": f"evt-{seq:08d}",
                "device": "dc-main",
                "boot": "b1",
                "seq": seq,
                "ts": NOW - 5,
                "mono": 1,
                "synced": True,
                "kind": kind,
                "body": body,
            }
        )
    )


def test_checkin_point_has_no_badge() -> None:
    """A check-in becomes a checkin point tagged by checkpoint, task and method; the badge
    stays out."""
    ev = _event(
        "checkin",
        {
            "badge": "04A23B1C",
            "checkpoint": "cp-sandpit",
            "space": "kids-play",
            "task": "disinfection",
            "method": "rfid",
            "proof": "badge",
        },
    )
    assert to_line(event_point(TOPIC, ev, NOW, NOW)) == (
        "checkin,checkpoint=cp-sandpit,clock=synced,device=dc-main,method=rfid,site=xh-01,"
        f"space=kids-play,task=disinfection count=1i,seq=9i {(NOW - 5) * 10**6 + 9}"
    )


def test_satisfaction_vote_point() -> None:
    """A vote becomes a satisfaction_vote point tagged by rating and space."""
    ev = _event("satisfaction.vote", {"space": "elderly-meal", "rating": "satisfied"}, seq=3)
    assert to_line(event_point(TOPIC, ev, NOW, NOW)) == (
        "satisfaction_vote,clock=synced,device=dc-main,rating=satisfied,site=xh-01,"
        f"space=elderly-meal count=1i,seq=3i {(NOW - 5) * 10**6 + 3}"
    )


def test_integer_fields_stay_integers() -> None:
    """Counts are written with the i suffix, as the schema's int type requires."""
    point = event_point(TOPIC, door(body={"in": 100000, "out": 3, "space": "gym"}), NOW, NOW)
    assert dict(point.fields) == {"in": 100000, "out": 3, "seq": 42}
    assert all(type(v) is int for _, v in point.fields)


STATUS_CASES = [
    (
        {
            "device": "edge-1",
            "state": "online",
            "ts": NOW - 10,
            "synced": True,
            "uptime_s": 5,
            "outbox": 3,
            "disk_free_mb": 1024.5,
        },
        f"device_status,device=edge-1,site=xh-01 online=1i,uptime_s=5.0,outbox=3i,"
        f"disk_free_mb=1024.5,synced=1i {(NOW - 10) * 10**6}",
    ),
    (
        {"device": "edge-1", "state": "offline"},
        f"device_status,device=edge-1,site=xh-01 online=0i {(NOW - 7) * 10**6}",
    ),
    (
        {"device": "edge-1", "state": "online", "ts": 5_000_000, "synced": False},
        f"device_status,device=edge-1,site=xh-01 online=1i,synced=0i {(NOW - 7) * 10**6}",
    ),
    (
        {"device": "edge-1", "state": "online", "ts": NOW + 3_600_000, "synced": True},
        f"device_status,device=edge-1,site=xh-01 online=1i,synced=1i {(NOW - 7) * 10**6}",
    ),
]


@pytest.mark.parametrize(("status", "expected"), STATUS_CASES)
def test_status_points(status: dict[str, Any], expected: str) -> None:
    """Status messages become device_status at ts when synced and plausible, else at receipt."""
    decoded = codec.decode_status(json.dumps(status))
    assert to_line(status_point(STATUS_TOPIC, decoded, NOW - 7, NOW)) == expected


def test_status_device_mismatch() -> None:
    """A status whose device differs from its topic is refused."""
    decoded = codec.decode_status(json.dumps({"device": "other", "state": "online"}))
    with pytest.raises(ContractError) as info:
        status_point(STATUS_TOPIC, decoded, NOW, NOW)
    assert info.value.reason == "device_mismatch"


def health(**over: Any) -> Any:
    """Decode a health.reading (the golden sample's body) with envelope overrides."""
    body = {
        "member": "m1-0ea382f0e82e730e458bb3145cb44dea",
        "space": "elderly-care",
        "readings": [{"type": "spo2", "value": 97.0, "unit": "%", "loinc": "59408-5"}],
    }
    return door(kind="health.reading", body=body, **over)


def test_health_reading_has_no_point_but_is_still_checked() -> None:
    """A health.reading maps to no point (member pseudonym and values never reach the
    time-series store), yet its device and time are checked like any event's."""
    assert event_point(TOPIC, health(), NOW, NOW) is None
    for over, reason in (
        ({"device": "kiosk-other"}, "device_mismatch"),
        ({"ts": NOW + 300_001}, "ts_in_future"),
        ({"ts": MIN_2000 - 1}, "ts_too_old"),
    ):
        with pytest.raises(ContractError) as info:
            event_point(TOPIC, health(**over), NOW, NOW)
        assert info.value.reason == reason
