"""Device health as a pure function of (devices, last status, now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from facility_server.health.evaluate import DeviceView, LastStatus, evaluate

T0 = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)
HB = 10.0  # heartbeat, s


def dev(
    i: int, code: str, kind: str = "checkin_terminal", via: int | None = None, cx: int = 1
) -> DeviceView:
    """A device registered an hour before T0."""
    return DeviceView(i, code, cx, f"site{cx}", kind, via, T0 - timedelta(hours=1))


def online(at: datetime) -> LastStatus:
    """Heard online at ``at`` with a 10 s heartbeat."""
    return LastStatus("online", at, HB)


def test_online_within_three_heartbeats_then_offline() -> None:
    """Online while heard within 30 s; offline (and an alert) after 30 s of silence."""
    devices = [dev(1, "a"), dev(2, "b")]
    statuses = {1: online(T0), 2: online(T0 + timedelta(seconds=60))}
    at = T0 + timedelta(seconds=30)
    report = evaluate(devices, statuses, at)
    assert report.states == {1: "online", 2: "online"}
    report = evaluate(devices, statuses, at + timedelta(seconds=1))
    assert report.states[1] == "offline"
    assert [(a.kind, a.subject) for a in report.alerts] == [("device_offline", "site1/a")]


def test_last_will_is_offline_at_once_alert_after_grace() -> None:
    """A last will makes the device offline now; the alert waits for three missed heartbeats."""
    devices = [dev(1, "a"), dev(2, "b")]
    statuses = {1: LastStatus("offline", T0, HB), 2: online(T0 + timedelta(seconds=25))}
    early = evaluate(devices, statuses, T0 + timedelta(seconds=5))
    assert early.states[1] == "offline" and early.alerts == []
    late = evaluate(devices, statuses, T0 + timedelta(seconds=31))
    assert [a.occurrence for a in late.alerts] == [T0.isoformat(timespec="milliseconds")]


def test_never_reported_is_offline_and_alerts_after_grace() -> None:
    """A device that never reported is never_seen; alert 3 default heartbeats after registration."""
    d = DeviceView(1, "a", 1, "site1", "camera", None, T0)
    other = dev(2, "b")
    statuses = {2: online(T0 + timedelta(seconds=170))}
    assert evaluate([d, other], statuses, T0 + timedelta(seconds=100), 60).alerts == []
    report = evaluate([d, other], statuses, T0 + timedelta(seconds=181), 60)
    assert report.states[1] == "never_seen"
    assert [(a.subject, a.occurrence) for a in report.alerts] == [("site1/a", "never")]


def test_edge_down_gives_one_grouped_alert() -> None:
    """An edge agent down takes its serial devices with it: one edge_offline alert, not three."""
    edge = dev(1, "edge", "edge_agent")
    serial = [dev(2, "dc1", "door_counter", via=1), dev(3, "dc2", "door_counter", via=1)]
    alive = dev(4, "kiosk", "health_kiosk")
    statuses = {
        1: LastStatus("offline", T0, HB),
        2: online(T0),
        3: online(T0),
        4: online(T0 + timedelta(seconds=55)),
    }
    report = evaluate([edge, *serial, alive], statuses, T0 + timedelta(seconds=60))
    assert report.states == {1: "offline", 2: "offline", 3: "offline", 4: "online"}
    assert [(a.kind, a.devices) for a in report.alerts] == [
        ("edge_offline", ("edge", "dc1", "dc2"))
    ]


def test_whole_complex_down_gives_one_alert() -> None:
    """Every device of a complex silent -> one complex_offline alert; other complexes unaffected."""
    down = [dev(1, "edge", "edge_agent"), dev(2, "dc1", "door_counter", via=1), dev(3, "kiosk")]
    fine = [dev(4, "x", cx=2), dev(5, "y", cx=2)]
    at = T0 + timedelta(seconds=100)
    statuses = {
        1: online(T0),
        2: online(T0),
        3: online(T0 + timedelta(seconds=5)),
        4: online(at),
        5: online(at),
    }
    report = evaluate([*down, *fine], statuses, at)
    assert [(a.kind, a.subject, a.occurrence) for a in report.alerts] == [
        ("complex_offline", "site1", (T0 + timedelta(seconds=5)).isoformat(timespec="milliseconds"))
    ]


def test_naive_now_is_refused() -> None:
    """evaluate() needs a tz-aware now."""
    with pytest.raises(ValueError):
        evaluate([], {}, datetime(2026, 6, 2))  # noqa: DTZ001 - the point of the test
