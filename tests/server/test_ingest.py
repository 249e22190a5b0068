"""Ingest: messages decoded by the contract codec, stored once per event id."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from facility_contracts import codec, topics
from facility_contracts.envelope import (
    DeviceNotice,
    DeviceNoticeBody,
    DoorCrossing,
    DoorCrossingBody,
    Status,
)
from facility_server.ingest.subscriber import Ingest
from facility_server.models import Device
from facility_server.models import DeviceNotice as NoticeRow
from facility_server.models import DoorCrossing as CrossingRow
from facility_server.setup import import_setup
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

SITE = "xihu-beishan-shuguang"
NOW = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)
TS = 1_780_365_600_000  # 2026-06-02T02:00:00Z in ms


def _ingest(factory: sessionmaker[Session]) -> Ingest:
    return Ingest(factory, "mqtt://127.0.0.1:1", client_id="unit", clock=lambda: NOW)


def _crossing(event_id: str, n: int) -> bytes:
    return codec.encode_event(
        DoorCrossing(
            id=event_id,
            device="dc-kids-play",
            boot="b1",
            seq=n,
            ts=TS,
            mono=n,
            synced=True,
            body=DoorCrossingBody(**{"in": 2}, out=1, space="kids-play"),
        )
    )


def test_door_crossing_is_stored_once(factory: sessionmaker[Session], example_path: Path) -> None:
    """The same event id delivered twice (QoS 1 redelivery) is stored once, with its space."""
    with factory() as s:
        import_setup(s, example_path)
        s.commit()
    ingest = _ingest(factory)
    topic = topics.event_topic(SITE, "edge-main")
    assert ingest.handle(topic, _crossing("evt-00000001", 1)) is True
    assert ingest.handle(topic, _crossing("evt-00000001", 1)) is False
    assert ingest.handle(topic, _crossing("evt-00000002", 2)) is True
    with factory() as s:
        rows = s.scalars(select(CrossingRow).order_by(CrossingRow.id)).all()
        assert [(r.event_id, r.people_in, r.people_out, r.space_code) for r in rows] == [
            ("evt-00000001", 2, 1, "kids-play"),
            ("evt-00000002", 2, 1, "kids-play"),
        ]
        assert all(r.space_id is not None and r.ts == NOW for r in rows)


def test_notice_invalid_and_unknown_messages(
    factory: sessionmaker[Session], example_path: Path
) -> None:
    """A notice is stored; invalid JSON, a bad topic and an unknown site are dropped."""
    with factory() as s:
        import_setup(s, example_path)
        s.commit()
    ingest = _ingest(factory)
    notice = codec.encode_event(
        DeviceNotice(
            id="evt-notice-1",
            device="dc-aid",
            boot="b1",
            seq=1,
            ts=TS,
            mono=1,
            synced=True,
            body=DeviceNoticeBody(code="power_cycle"),
        )
    )
    assert ingest.handle(topics.event_topic(SITE, "edge-main"), notice) is True
    assert ingest.handle(topics.event_topic(SITE, "edge-main"), b"{not json") is False
    assert ingest.handle("facility/v1/bad topic/x/evt", notice) is False
    assert (
        ingest.handle(topics.event_topic("unknown-site", "edge-main"), _crossing("evt-00000009", 9))
        is False
    )
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(NoticeRow)) == 1
        assert s.scalar(select(func.count()).select_from(CrossingRow)) == 0


def test_status_updates_device_and_its_serial_devices(
    factory: sessionmaker[Session], example_path: Path
) -> None:
    """An edge agent's status sets its own state and last seen, and its listed devices'."""
    with factory() as s:
        import_setup(s, example_path)
        s.commit()
    status = Status(
        device="edge-main",
        state="online",
        heartbeat_s=15.0,
        devices={"dc-aid": "ok", "dc-health": "error"},
    )
    assert (
        _ingest(factory).handle(topics.status_topic(SITE, "edge-main"), codec.encode_status(status))
        is True
    )
    with factory() as s:
        got = {d.code: (d.state, d.last_seen, d.heartbeat_s) for d in s.scalars(select(Device))}
    assert got["edge-main"] == ("online", NOW, 15.0)
    assert got["dc-aid"] == ("online", NOW, 15.0)
    assert got["dc-health"] == ("offline", None, 15.0)


def test_status_from_unknown_device_names_site_and_device(
    factory: sessionmaker[Session], example_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A status from a device not in the registry is logged with its site and device."""
    with factory() as s:
        import_setup(s, example_path)
        s.commit()
    status = codec.encode_status(Status(device="ghost-7", state="online"))
    with caplog.at_level(logging.INFO, logger="facility_server.ingest"):
        assert _ingest(factory).handle(topics.status_topic(SITE, "ghost-7"), status) is False
    assert any(
        "unknown device" in r.getMessage() and f"{SITE}/ghost-7" in r.getMessage()
        for r in caplog.records
    )


def test_satisfaction_vote_from_the_broker_is_stored_once(
    factory: sessionmaker[Session], example_path: Path
) -> None:
    """A satisfaction vote on the event topic goes through the ingest into the database once."""
    from facility_contracts.envelope import SatisfactionVote, SatisfactionVoteBody
    from facility_server.satisfaction.models import SatisfactionVote as VoteRow

    with factory() as s:
        import_setup(s, example_path)
        s.commit()
    vote = codec.encode_event(
        SatisfactionVote(
            id="evt-vote-1",
            device="sat-health",
            boot="b1",
            seq=1,
            ts=TS,
            mono=1,
            synced=True,
            body=SatisfactionVoteBody(space="health", rating="satisfied"),
        )
    )
    topic = topics.event_topic(SITE, "sat-health")
    ingest = _ingest(factory)
    assert ingest.handle(topic, vote) is True
    assert ingest.handle(topic, vote) is False
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(VoteRow)) == 1
