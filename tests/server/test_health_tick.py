"""The health tick on the database: one alert per outage, recovery, grouping, dedupe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from facility_contracts.envelope import Status
from facility_contracts.topics import Topic
from facility_server.alerts import open_alert
from facility_server.health.tick import device_health_summary, health_tick
from facility_server.ingest.store import store_status
from facility_server.models import Alert
from facility_server.setup import import_setup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

SITE = "xihu-beishan-shuguang"
T0 = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)
MQTT_DEVICES = [
    "ci-kids-play",
    "sat-elderly-meal",
    "sat-health",
    "sat-culture",
    "sat-kids-play",
]
SERIAL = [
    f"dc-{s}"
    for s in (
        "elderly-care",
        "elderly-meal",
        "infant-care",
        "child-care",
        "aid",
        "disability-care",
        "housekeeping",
        "health",
        "fitness",
        "culture",
        "kids-play",
        "legal-aid",
    )
]
#: Devices edge-main publishes for: the serial door counters and the kiosk on its LAN broker.
VIA_EDGE = [*SERIAL, "hk-elderly-care"]


def _status(
    session: Session, device: str, state: str, at: datetime, devices: dict[str, str] | None = None
) -> None:
    store_status(
        session,
        Topic(SITE, device, "status"),
        Status(device=device, state=state, heartbeat_s=10.0, devices=devices),
        at,
    )  # type: ignore[arg-type]


def _all_report(session: Session, at: datetime) -> None:
    _status(session, "edge-main", "online", at, dict.fromkeys(VIA_EDGE, "ok"))
    for d in MQTT_DEVICES:
        _status(session, d, "online", at)


def _alerts(session: Session) -> list[tuple[str, str, str, str | None]]:
    return [
        (a.kind, a.subject, a.state, a.resolution)
        for a in session.scalars(select(Alert).order_by(Alert.id))
    ]


def test_outage_gives_one_alert_and_recovery_resolves_it(
    factory: sessionmaker[Session], example_path: Path
) -> None:
    """A terminal's last will, then a minute of ticks: one alert; it reports again: recovered."""
    with factory() as s:
        import_setup(s, example_path)
        _all_report(s, T0)
        health_tick(s, T0)
        assert _alerts(s) == []
        _status(s, "sat-health", "offline", T0 + timedelta(seconds=1))
        for k in range(1, 13):
            at = T0 + timedelta(seconds=5 * k)
            for d in [x for x in MQTT_DEVICES if x != "sat-health"]:
                _status(s, d, "online", at)
            _status(s, "edge-main", "online", at, dict.fromkeys(VIA_EDGE, "ok"))
            health_tick(s, at)
        assert _alerts(s) == [("device_offline", f"{SITE}/sat-health", "open", None)]
        _status(s, "sat-health", "online", T0 + timedelta(seconds=61))
        health_tick(s, T0 + timedelta(seconds=61))
        assert _alerts(s) == [("device_offline", f"{SITE}/sat-health", "resolved", "recovered")]
        s.commit()


def test_edge_outage_is_one_grouped_alert(
    factory: sessionmaker[Session], example_path: Path
) -> None:
    """The edge agent's last will takes its 12 door counters and the kiosk offline: one
    edge_offline alert."""
    with factory() as s:
        import_setup(s, example_path)
        _all_report(s, T0)
        _status(s, "edge-main", "offline", T0 + timedelta(seconds=2))
        at = T0 + timedelta(seconds=40)
        for d in MQTT_DEVICES:
            _status(s, d, "online", at)
        report = health_tick(s, at)
        offline = len(VIA_EDGE) + 1  # and edge-main itself
        assert report.counts() == {"online": len(MQTT_DEVICES), "offline": offline, "never_seen": 0}
        assert _alerts(s) == [("edge_offline", f"{SITE}/edge-main", "open", None)]
        summary = device_health_summary(s, at)
        assert (summary["devices"], summary["offline"], len(summary["open_alerts"])) == (
            19,
            offline,
            1,
        )


def test_complex_outage_is_one_alert(factory: sessionmaker[Session], example_path: Path) -> None:
    """Every device silent (network down): exactly one complex_offline alert."""
    with factory() as s:
        import_setup(s, example_path)
        _all_report(s, T0)
        for k in range(1, 10):
            health_tick(s, T0 + timedelta(seconds=10 * k))
        assert _alerts(s) == [("complex_offline", SITE, "open", None)]


def test_two_processes_cannot_open_the_same_alert(
    factory: sessionmaker[Session], example_path: Path
) -> None:
    """Two sessions opening the same occurrence end with one alert row (unique dedupe key)."""
    with factory() as s:
        import_setup(s, example_path)
        s.commit()
    with factory() as s1, factory() as s2:
        a1, new1 = open_alert(
            s1, kind="device_offline", subject=f"{SITE}/x", occurrence="o1", title="t", now=T0
        )
        s1.commit()
        a2, new2 = open_alert(
            s2, kind="device_offline", subject=f"{SITE}/x", occurrence="o1", title="t", now=T0
        )
        s2.commit()
    assert (new1, new2, a1.id) == (True, False, a2.id)
    with factory() as s3:  # the database itself refuses a second row with the same key
        s3.add(
            Alert(
                kind="device_offline",
                subject=f"{SITE}/x",
                occurrence="o1",
                title="t",
                opened_at=T0,
                dedupe_key=a1.dedupe_key,
                state="open",
                severity="warning",
                detail={},
            )
        )
        with pytest.raises(IntegrityError):
            s3.flush()


def test_summary_lists_agree_with_counts(
    factory: sessionmaker[Session], example_path: Path
) -> None:
    """One terminal offline, the rest never seen: each list matches its count, no overlap."""
    with factory() as s:
        import_setup(s, example_path)
        _status(s, "sat-health", "online", T0)
        _status(s, "sat-health", "offline", T0 + timedelta(seconds=1))
        summary = device_health_summary(s, T0 + timedelta(seconds=2))
    assert (summary["online"], summary["offline"], summary["never_seen"]) == (0, 1, 18)
    assert summary["offline_devices"] == [f"{SITE}/sat-health"]
    assert len(summary["never_seen_devices"]) == summary["never_seen"] == 18
    assert f"{SITE}/sat-health" not in summary["never_seen_devices"]
    assert f"{SITE}/edge-main" in summary["never_seen_devices"]
