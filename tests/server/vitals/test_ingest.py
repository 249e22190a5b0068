"""Ingest of health readings: consent at the reading time, counted always, stored once,
rejections kept as notices, distinct members per hour without keeping pseudonyms."""

from __future__ import annotations

import json
from datetime import date, timedelta

from facility_contracts.envelope import DeviceNotice as DeviceNoticeEvent
from facility_contracts.envelope import (
    DeviceNoticeBody,
    HealthReadingBody,
    HealthReadingItem,
)
from facility_contracts.topics import Topic
from facility_server.ingest.store import store_event
from facility_server.models import (
    Complex,
    Consent,
    DeviceNotice,
    HourVisitor,
    KioskSession,
    Reading,
    ReadingHour,
    UsageHour,
)
from facility_server.vitals.counters import close_hours
from facility_server.vitals.retention import withdraw_consent
from facility_server.vitals.usage import usage_summary
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from .helpers import Feed, card_pseudonym, example, local, member, ms, reading_event

BP = [("systolic_bp", 152.0), ("diastolic_bp", 94.0), ("heart_rate", 76.0)]
HOUR9 = ms(local(2026, 6, 2, 9))


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _usage(session: Session, start_ms: int = HOUR9) -> tuple[int, int, int, int]:
    row = session.scalars(select(UsageHour).where(UsageHour.start_ms == start_ms)).one()
    return row.sessions, row.members, row.consented, row.crisis


def test_values_kept_only_with_consent_at_the_reading_time(
    factory: sessionmaker[Session],
) -> None:
    """Before the grant and for an unknown pseudonym nothing but counts is kept; after the
    grant each reading is kept with its flag; after withdrawal again only counts."""
    with factory() as s:
        cx = example(s)
        mid, alice = member(s, cx, "3301 0600 1234", "王阿姨", local(2026, 6, 2, 9, 10))
        s.commit()
    feed = Feed(factory, local(2026, 6, 2, 9, 55))
    stranger = card_pseudonym("9999 0000 0001")
    assert feed.send(reading_event(alice, local(2026, 6, 2, 9, 5), BP))  # before the grant
    assert feed.send(reading_event(stranger, local(2026, 6, 2, 9, 15), BP))  # not enrolled
    assert feed.send(reading_event(alice, local(2026, 6, 2, 9, 20), BP))  # consented
    with factory() as s:
        rows = s.scalars(select(Reading).order_by(Reading.id)).all()
        assert [(r.type, r.value, r.unit, r.loinc, r.flag, r.member_id) for r in rows] == [
            ("systolic_bp", 152.0, "mmHg", "8480-6", "high", mid),
            ("diastolic_bp", 94.0, "mmHg", "8462-4", "high", mid),
            ("heart_rate", 76.0, "bpm", "8867-4", "normal", mid),
        ]
        assert {r.ts for r in rows} == {local(2026, 6, 2, 9, 20)}
        sessions = s.scalars(select(KioskSession).order_by(KioskSession.ts)).all()
        assert [(x.consented, x.member_id) for x in sessions] == [
            (False, None),
            (False, None),
            (True, mid),
        ]
        assert _usage(s) == (3, 2, 1, 0)
        consent = s.scalars(select(Consent)).one()
        withdraw_consent(s, consent, by="desk-1", now=local(2026, 6, 2, 9, 30))
        s.commit()
    assert feed.send(reading_event(alice, local(2026, 6, 2, 9, 40), BP))  # after withdrawal
    assert feed.send(reading_event(alice, local(2026, 6, 2, 9, 25), BP))  # taken before, late
    with factory() as s:
        assert _count(s, Reading) == 0  # withdrawal deleted the kept ones, none added
        assert s.scalar(select(func.count()).where(KioskSession.member_id.is_not(None))) == 0
        assert _usage(s) == (5, 2, 1, 0)
        by_type = {
            r.reading_type: (r.readings, r.evaluated, r.outside_reference)
            for r in s.scalars(select(ReadingHour))
        }
        assert by_type == {
            "systolic_bp": (5, 1, 1),
            "diastolic_bp": (5, 1, 1),
            "heart_rate": (5, 1, 0),
        }


def test_redelivered_event_is_stored_and_counted_once(factory: sessionmaker[Session]) -> None:
    """The same event id twice (QoS 1 redelivery): one session, its readings once, one count."""
    with factory() as s:
        cx = example(s)
        _, alice = member(s, cx, "3301 0600 1234", "王阿姨", local(2026, 6, 1, 9))
        s.commit()
    feed = Feed(factory, local(2026, 6, 2, 9, 55))
    event = reading_event(alice, local(2026, 6, 2, 9, 20), BP, event_id="0193a0b1-aaaa")
    assert feed.send(event) is True
    assert feed.send(event) is False
    with factory() as s:
        assert (_count(s, KioskSession), _count(s, Reading)) == (1, 3)
        assert _usage(s) == (1, 1, 1, 0)
        assert s.scalars(select(ReadingHour.readings)).all() == [1, 1, 1]


def test_bad_reading_becomes_a_rejection_notice_and_nothing_else(
    factory: sessionmaker[Session],
) -> None:
    """A reading the codec would refuse (SpO2 101 %), given to store_event directly, is kept
    as a reading_rejected notice with reason and field only; no session, no count."""
    with factory() as s:
        cx = example(s)
        _, alice = member(s, cx, "3301 0600 1234", "王阿姨", local(2026, 6, 1, 9))
        good = reading_event(alice, local(2026, 6, 2, 9, 20), [("spo2", 97.0)])
        body = HealthReadingBody.model_construct(
            member=alice,
            space="elderly-care",
            readings=[
                HealthReadingItem.model_construct(
                    type="spo2", value=101.0, unit="%", loinc="59408-5"
                )
            ],
        )
        bad = good.model_copy(update={"body": body, "id": "evt-bad-spo2"})
        now = local(2026, 6, 2, 9, 30)
        topic = Topic(cx.site_id, "hk-elderly-care", "evt")
        assert store_event(s, topic, bad, now) is True
        assert store_event(s, topic, bad, now) is False
        s.commit()
        (notice,) = s.scalars(select(DeviceNotice)).all()
        assert (notice.code, notice.device_code) == ("reading_rejected", "hk-elderly-care")
        assert notice.detail == "reason=impossible_value field=body.readings.0.value"
        assert (_count(s, KioskSession), _count(s, UsageHour), _count(s, Reading)) == (0, 0, 0)
    edge_notice = DeviceNoticeEvent(
        id="evt-edge-rejected-1",
        device="hk-elderly-care",
        boot="b1",
        seq=2,
        ts=ms(local(2026, 6, 2, 9, 25)),
        mono=2,
        synced=True,
        body=DeviceNoticeBody(code="reading_rejected", detail="reason=bp_inverted field=readings"),
    )
    Feed(factory, local(2026, 6, 2, 9, 30)).send(edge_notice)
    with factory() as s:
        usage = usage_summary(s, s.get_one(Complex, cx.id), date(2026, 6, 2), date(2026, 6, 3))
    assert usage["rejected"] == {"hk-elderly-care": {"bp_inverted": 1, "impossible_value": 1}}


def test_distinct_members_per_hour_without_keeping_pseudonyms(
    factory: sessionmaker[Session],
) -> None:
    """Two sessions of one member and one of another in an hour count 2 members; the next
    hour counts afresh; hashes (never pseudonyms) go when the hour is closed."""
    with factory() as s:
        example(s)
        s.commit()
    a, b = card_pseudonym("1111"), card_pseudonym("2222")
    feed = Feed(factory, local(2026, 6, 2, 11, 0))
    for who, minute in ((a, 5), (a, 40), (b, 50)):
        feed.send(reading_event(who, local(2026, 6, 2, 9, minute), [("heart_rate", 70.0)]))
    feed.send(reading_event(a, local(2026, 6, 2, 10, 5), [("heart_rate", 70.0)]))
    with factory() as s:
        assert _usage(s) == (3, 2, 0, 0)
        assert _usage(s, HOUR9 + 3_600_000) == (1, 1, 0, 0)
        tokens = s.scalars(select(HourVisitor.token)).all()
        assert len(tokens) == 3 and not {a, b} & set(tokens)
        cols = (
            HourVisitor.complex_id,
            HourVisitor.space_code,
            HourVisitor.start_ms,
            HourVisitor.token,
        )
        dump = json.dumps([list(r) for r in s.execute(select(*cols)).all()], default=str)
        assert a not in dump and b not in dump
        # 9:00-10:00 closes at 10:00 + keep (2 h): at 12:01 the 9 o'clock hashes are gone
        assert close_hours(s, local(2026, 6, 2, 12, 1), 7200) == 2
        assert close_hours(s, local(2026, 6, 2, 12, 1) + timedelta(hours=1), 7200) == 1
        s.commit()
        assert _count(s, HourVisitor) == 0
        assert _usage(s) == (3, 2, 0, 0)  # the counts stay
