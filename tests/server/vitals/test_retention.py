"""Storage limits: the retention purge (injected clock), and erasure of a member from
every table of the database."""

from __future__ import annotations

import json
from datetime import timedelta

from facility_server.models import (
    Alert,
    AuditEntry,
    Base,
    KioskSession,
    Member,
    Notification,
    Reading,
    UsageHour,
)
from facility_server.notify.outbox import dispatch
from facility_server.vitals.crisis import identified
from facility_server.vitals.retention import erase_member
from facility_server.vitals.runner import VitalsRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ..conftest import FakeClock
from .helpers import Feed, example, health_contact, local, member, reading_event


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_purge_deletes_readings_older_than_the_retention(factory: sessionmaker[Session]) -> None:
    """With 180 days' retention, the daily run at day 180 + 1 h deletes the first day's
    readings and sessions, keeps the later ones and every hourly count, and audits it."""
    with factory() as s:
        cx = example(s)
        _, alice = member(s, cx, "3301", "王阿姨", local(2026, 1, 1))
        s.commit()
    feed = Feed(factory, local(2026, 1, 10, 12))
    feed.send(reading_event(alice, local(2026, 1, 10, 9), [("heart_rate", 70.0)]))
    feed.send(reading_event(alice, local(2026, 1, 10, 11), [("heart_rate", 72.0)]))
    clock = FakeClock(local(2026, 1, 10, 9) + timedelta(days=180, hours=1))
    runner = VitalsRunner(factory, clock, retention_days=180, visitor_keep_s=7200)
    runner.run_once()
    with factory() as s:
        assert s.scalars(select(Reading.value)).all() == [72.0]
        assert _count(s, KioskSession) == 1
        assert sum(s.scalars(select(UsageHour.sessions))) == 2
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "vital_reading.purge")
        ).one()
        assert entry.detail == {
            "readings": 1,
            "sessions": 1,
            "event_ids_dropped": 0,
            "retention_days": 180,
        }
    clock.advance(3600)  # same UTC day: no second purge
    runner.run_once()
    clock.advance(86400)
    runner.run_once()
    with factory() as s:
        assert _count(s, Reading) == 0
        assert _count(s, AuditEntry) == 2


def _rows(session: Session) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, as text-friendly dicts."""
    return {
        t.name: [dict(r._mapping) for r in session.execute(select(t))]
        for t in Base.metadata.sorted_tables
    }


def test_erasure_leaves_nothing_that_links_to_the_member(factory: sessionmaker[Session]) -> None:
    """After erasure no table holds the pseudonym or the name, no member column or alert
    detail names the member id, readings are gone; counts, the alert and the audit remain."""
    with factory() as s:
        cx = example(s)
        health_contact(s, cx)
        mid, alice = member(s, cx, "3301 0600 1234", "王阿姨", local(2026, 6, 1, 9))
        other, bob = member(s, cx, "4401", "李伯伯", local(2026, 6, 1, 9))
        s.commit()
    feed = Feed(factory, local(2026, 6, 2, 9, 50))
    feed.send(reading_event(alice, local(2026, 6, 2, 9, 10), [("spo2", 87.0)]))
    feed.send(reading_event(alice, local(2026, 6, 2, 9, 20), [("heart_rate", 71.0)]))
    feed.send(reading_event(bob, local(2026, 6, 2, 9, 30), [("heart_rate", 66.0)]))
    with factory() as s:
        dispatch(s, local(2026, 6, 2, 9, 51))
        counts = erase_member(s, s.get_one(Member, mid))
        s.commit()
        assert counts == {
            "readings": 2,
            "sessions_unlinked": 2,
            "alerts_scrubbed": 0,  # the alert never held anything about the member
            "visitor_hashes": 1,
            "consents": 1,
        }
        rows = _rows(s)
        dump = json.dumps(rows, default=str, ensure_ascii=False)
        assert alice not in dump and "王阿姨" not in dump
        assert bob in dump and "李伯伯" in dump  # the other member is untouched
        for table, items in rows.items():
            for row in items:
                assert row.get("member_id") != mid, table
                detail = row.get("detail")
                detail = json.loads(detail) if isinstance(detail, str) else detail or {}
                if table != "audit_log":  # the audit log may name internal ids only
                    assert not {"member", "member_id", "pseudonym"} & set(detail), table
        assert s.scalars(select(Reading.member_id)).all() == [other]
        assert _count(s, Alert) == 1 and _count(s, Notification) == 1
        assert identified(s, s.scalars(select(Alert.id)).one()) is False
        assert sum(s.scalars(select(UsageHour.sessions))) == 3
