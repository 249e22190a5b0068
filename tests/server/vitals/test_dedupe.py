"""What the ingest refuses or recognises: a resend of a purged session (counted once,
nothing stored), a reading already older than the retention (counted, no values), one
older than the server remembers (refused as too_old), a reading from a device that is
not the space's kiosk, and a reading the codec refuses (counted as a rejection)."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import pytest
from facility_contracts import codec, topics
from facility_server.ingest.subscriber import Ingest
from facility_server.models import (
    Alert,
    Complex,
    DeviceNotice,
    KioskSession,
    PurgedEvent,
    Reading,
    ReadingHour,
    UsageHour,
)
from facility_server.vitals.runner import VitalsRunner
from facility_server.vitals.usage import usage_summary
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ..conftest import FakeClock
from .helpers import Feed, example, local, member, reading_event

BP = [("systolic_bp", 152.0), ("diastolic_bp", 94.0)]


@pytest.fixture(autouse=True)
def _retention(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings' retention is 180 days in these tests (the ingest reads it)."""
    monkeypatch.setenv("FACILITY_SERVER_VITALS_RETENTION_DAYS", "180")


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _sessions_counted(session: Session) -> int:
    return sum(session.scalars(select(UsageHour.sessions)))


def _consented(factory: sessionmaker[Session]) -> str:
    with factory() as s:
        cx = example(s)
        _, alice = member(s, cx, "3301 0600 1234", "王阿姨", local(2025, 12, 1, 9))
        s.commit()
    return alice


def test_resend_of_a_purged_session_is_counted_once_and_not_stored(
    factory: sessionmaker[Session],
) -> None:
    """A session stored on 1 Jan, purged by the daily run on 30 Jun (180 days + a few),
    then resent by the edge: not stored again, not counted again; its id is remembered
    for 365 days past the retention, after which a resend is refused as too_old."""
    alice = _consented(factory)
    event = reading_event(alice, local(2026, 1, 1, 9), BP, event_id="evt-old-1")
    assert Feed(factory, local(2026, 1, 1, 9, 5)).send(event)
    clock = FakeClock(local(2026, 6, 30, 12))  # 1 Jan 09:00 + 180 d = 30 Jun 09:00
    VitalsRunner(factory, clock, retention_days=180, visitor_keep_s=7200).run_once()
    with factory() as s:
        assert (_count(s, KioskSession), _count(s, Reading)) == (0, 0)
        assert s.scalars(select(PurgedEvent.event_id)).all() == ["evt-old-1"]
    assert Feed(factory, local(2026, 6, 30, 13)).send(event) is False
    with factory() as s:
        assert (_count(s, KioskSession), _count(s, Reading)) == (0, 0)
        assert _sessions_counted(s) == 1
        assert s.scalars(select(ReadingHour.readings)).all() == [1, 1]
    # 1 Jan 2026 09:00 + 180 + 365 days = 30 Jun 2027 09:00: the next day's run drops the id
    clock.now = local(2027, 7, 1, 10)
    VitalsRunner(factory, clock, retention_days=180, visitor_keep_s=7200).run_once()
    with factory() as s:
        assert _count(s, PurgedEvent) == 0
    assert Feed(factory, local(2027, 7, 1, 11)).send(event)  # a new rejection notice
    with factory() as s:
        notice = s.scalars(select(DeviceNotice)).one()
        assert notice.detail == "reason=too_old field=ts"
        assert _sessions_counted(s) == 1  # still counted once


def test_reading_older_than_the_retention_is_counted_without_values(
    factory: sessionmaker[Session],
) -> None:
    """A consented member's crisis reading of 1 Jan arrives on 1 Aug (212 days late):
    counted (session, crisis, readings, not evaluated), no value, no session row, no
    alert; its id is remembered, so a second delivery changes nothing."""
    alice = _consented(factory)
    crisis = [("systolic_bp", 186.0), ("diastolic_bp", 101.0)]
    event = reading_event(alice, local(2026, 1, 1, 9), crisis, event_id="evt-late-1")
    feed = Feed(factory, local(2026, 8, 1, 9))
    assert feed.send(event) is True
    assert feed.send(event) is False
    with factory() as s:
        assert (_count(s, Reading), _count(s, KioskSession), _count(s, Alert)) == (0, 0, 0)
        assert s.scalars(select(PurgedEvent.event_id)).all() == ["evt-late-1"]
        row = s.scalars(select(UsageHour)).one()
        assert (row.sessions, row.members, row.consented, row.crisis) == (1, 1, 0, 1)
        assert sorted(
            (r.reading_type, r.readings, r.evaluated) for r in s.scalars(select(ReadingHour))
        ) == [("diastolic_bp", 1, 0), ("systolic_bp", 1, 0)]


@pytest.mark.parametrize(
    ("kiosk", "space", "reason"),
    [
        ("hk-elderly-care", "nowhere", "reason=space_mismatch field=body.space"),
        ("hk-elderly-care", "fitness", "reason=space_mismatch field=body.space"),
        ("dc-elderly-care", "elderly-care", "reason=kiosk_mismatch field=device"),
        ("hk-unknown", "elderly-care", "reason=kiosk_mismatch field=device"),
    ],
)
def test_reading_from_the_wrong_device_or_space_is_rejected(
    factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
    kiosk: str,
    space: str,
    reason: str,
) -> None:
    """A reading naming a space that is not its kiosk's, or sent as a device that is not
    a registered health kiosk (a door counter, an unknown code), is kept only as a
    rejection of that device with reason and field; nothing stored or counted, and the
    log holds no value and no pseudonym."""
    alice = _consented(factory)
    event = reading_event(alice, local(2026, 6, 2, 9), BP, kiosk=kiosk, space=space)
    with caplog.at_level(logging.INFO):
        assert Feed(factory, local(2026, 6, 2, 9, 5)).send(event)
    with factory() as s:
        notice = s.scalars(select(DeviceNotice)).one()
        assert (notice.device_code, notice.code, notice.detail) == (
            kiosk,
            "reading_rejected",
            reason,
        )
        assert (_count(s, KioskSession), _count(s, UsageHour), _count(s, Reading)) == (0, 0, 0)
    assert "152" not in caplog.text and alice not in caplog.text


def _forged(alice: str, value: object, event_id: str = "evt-forged-1") -> bytes:
    """A health.reading payload whose SpO2 the codec refuses (sent past the gateway)."""
    doc = json.loads(
        codec.encode_event(
            reading_event(alice, local(2026, 6, 2, 9, 20), [("spo2", 97.0)], event_id=event_id)
        )
    )
    doc["body"]["readings"][0]["value"] = value
    return json.dumps(doc).encode()


def test_reading_refused_at_decode_is_counted_for_its_device(
    factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    """SpO2 101 % sent straight to the central broker: the ingest refuses it, counts it
    once (a redelivery too) as a rejection of the topic's device dated at receipt, and
    neither the notice nor the log holds the value or the pseudonym."""
    alice = _consented(factory)
    now = local(2026, 6, 2, 9, 30)
    ingest = Ingest(factory, "mqtt://127.0.0.1:1", client_id="unit", clock=lambda: now)
    topic = topics.event_topic("xihu-beishan-shuguang", "hk-elderly-care")
    with caplog.at_level(logging.INFO):
        assert ingest.handle(topic, _forged(alice, 101)) is False
        assert ingest.handle(topic, _forged(alice, 101)) is False
    with factory() as s:
        notice = s.scalars(select(DeviceNotice)).one()
        assert (notice.event_id, notice.device_code) == ("evt-forged-1", "hk-elderly-care")
        assert notice.detail == "reason=impossible_value field=body.readings.0.value"
        assert notice.ts == now
        cx = s.scalars(select(Complex)).one()
        usage = usage_summary(s, cx, date(2026, 6, 2), date(2026, 6, 3))
    assert usage["rejected"] == {"hk-elderly-care": {"impossible_value": 1}}
    assert "101" not in caplog.text and alice not in caplog.text
    assert alice not in notice.detail and "101" not in notice.detail


def test_payload_that_is_no_health_reading_is_not_counted(factory: sessionmaker[Session]) -> None:
    """An undecodable payload of another kind (or not JSON) is dropped as before: no
    reading rejection is counted for it."""
    _consented(factory)
    now = local(2026, 6, 2, 9, 30)
    ingest = Ingest(factory, "mqtt://127.0.0.1:1", client_id="unit", clock=lambda: now)
    topic = topics.event_topic("xihu-beishan-shuguang", "dc-elderly-care")
    assert ingest.handle(topic, b'{"kind": "door.crossing", "v": 1}') is False
    assert ingest.handle(topic, b"not json") is False
    with factory() as s:
        assert _count(s, DeviceNotice) == 0


def test_late_resend_after_purge_window_keeps_hourly_counts(
    factory: sessionmaker[Session],
) -> None:
    """Purge on day 181 of a session and of the one next to it: both ids remembered; the
    edge resends both; the hour still counts two sessions (not four)."""
    alice = _consented(factory)
    events = [
        reading_event(alice, local(2026, 1, 1, 9, m), BP, event_id=f"evt-minute-{m}")
        for m in (1, 2)
    ]
    feed = Feed(factory, local(2026, 1, 1, 9, 5))
    assert all(feed.send(e) for e in events)
    clock = FakeClock(local(2026, 1, 1, 9) + timedelta(days=181))
    VitalsRunner(factory, clock, retention_days=180, visitor_keep_s=7200).run_once()
    feed.now = clock.now
    assert [feed.send(e) for e in events] == [False, False]
    with factory() as s:
        assert _sessions_counted(s) == 2 and _count(s, PurgedEvent) == 2
