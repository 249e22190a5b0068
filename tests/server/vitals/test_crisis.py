"""Crisis follow-up: one critical alert per crisis session, routed to the health contact,
whose title, detail and notification name kiosk, space and time but no value or member."""

from __future__ import annotations

import json

from facility_server.models import Alert, KioskSession, Notification
from facility_server.notify.outbox import dispatch
from facility_server.vitals.crisis import identified
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .helpers import Feed, card_pseudonym, example, health_contact, local, member, reading_event

CRISIS = [("systolic_bp", 187.0), ("diastolic_bp", 113.0), ("heart_rate", 97.0)]


def test_crisis_alert_opened_once_without_value_or_member(
    factory: sessionmaker[Session],
) -> None:
    """A crisis session opens one critical vital_crisis alert (redelivery adds none); its
    title, detail and the health contact's notification hold no value, name or pseudonym."""
    with factory() as s:
        cx = example(s)
        health_contact(s, cx)
        _, alice = member(s, cx, "3301 0600 1234", "王阿姨", local(2026, 6, 1, 9))
        s.commit()
    feed = Feed(factory, local(2026, 6, 2, 9, 31))
    event = reading_event(alice, local(2026, 6, 2, 9, 30), CRISIS, event_id="evt-crisis-a")
    assert feed.send(event) and not feed.send(event)
    with factory() as s:
        (alert,) = s.scalars(select(Alert)).all()
        assert (alert.kind, alert.severity, alert.state) == ("vital_crisis", "critical", "open")
        assert alert.escalate_after_s == 600
        assert "hk-elderly-care" in alert.title and "2026-06-02 09:30" in alert.title
        assert "老年人日间照料中心" in alert.title
        session_row = s.scalars(select(KioskSession)).one()
        assert session_row.alert_id == alert.id and session_row.crisis
        assert dispatch(s, local(2026, 6, 2, 9, 32)) == 1
        s.commit()
        (note,) = s.scalars(select(Notification)).all()
        assert note.recipient == "健康服务站值班"
        assert "kiosk hk-elderly-care" in note.body and "09:30" in note.body
        text = json.dumps([alert.title, alert.detail, alert.subject, note.title, note.body])
        for secret in ("187", "113", "97", alice, "王阿姨", "3301"):
            assert secret not in text, secret


def test_crisis_of_a_member_without_consent_is_alerted_unidentified(
    factory: sessionmaker[Session],
) -> None:
    """SpO2 86 % of a member without consent: counted as crisis, alerted as unidentified
    (known to the session, not written in the alert), the session keeps "spo2:low" and no
    value; a normal session opens nothing."""
    with factory() as s:
        example(s)
        s.commit()
    feed = Feed(factory, local(2026, 6, 2, 10, 1))
    stranger = card_pseudonym("5555 6666")
    feed.send(reading_event(stranger, local(2026, 6, 2, 9, 0), [("spo2", 97.0)]))
    feed.send(reading_event(stranger, local(2026, 6, 2, 10, 0), [("spo2", 86.0)]))
    with factory() as s:
        (alert,) = s.scalars(select(Alert)).all()
        assert "identified" not in alert.detail and identified(s, alert.id) is False
        crisis = s.scalars(select(KioskSession).where(KioskSession.crisis)).one()
        assert crisis.member_id is None and crisis.alert_id == alert.id
        assert crisis.crisis_flags == ["spo2:low"]
        assert "86" not in json.dumps([alert.title, alert.detail])
