"""Crisis notifications: the clinician on duty hears that the person is unidentified, a
real webhook gets the message as an Apprise ``failure`` (critical), and an escalation to
a level without a health contact is logged and shown on the alert."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from facility_server.alerts import escalate_due, resolve
from facility_server.models import Alert, Contact, Notification
from facility_server.notify.outbox import dispatch
from facility_server.notify.sender import AppriseSender, notify_type
from facility_server.notify.worker import deliver
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..compliance.conftest import Receiver
from ..conftest import FakeClock
from .helpers import Feed, card_pseudonym, example, local, member, reading_event

SPO2_LOW = [("spo2", 86.0)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server recording the webhook posts."""
    r = Receiver()
    yield r
    r.close()


def _site(factory: sessionmaker[Session], url: str) -> None:
    """The example complex with its health contact at ``url``; one consented member."""
    with factory() as s:
        cx = example(s)
        for c in s.scalars(select(Contact).where(Contact.complex_id == cx.id)):
            if "health" in c.topics:
                c.url = url
        member(s, cx, "3301 0600 1234", "王阿姨", local(2026, 6, 1, 9))
        s.commit()


def test_notify_type_follows_severity_and_event() -> None:
    """critical -> failure, warning -> warning, anything resolved -> success."""
    assert notify_type("critical", "opened") == "failure"
    assert notify_type("critical", "escalated:1") == "failure"
    assert notify_type("warning", "opened") == "warning"
    assert notify_type("critical", "resolved") == "success"
    assert notify_type("info", "opened") == "info"


def test_unidentified_crisis_reaches_the_webhook_as_a_failure(
    factory: sessionmaker[Session], receiver: Receiver
) -> None:
    """A stranger's SpO2 86 %: the webhook gets type failure and a body saying the member
    is unidentified (no value, no pseudonym); a consented member's crisis says enrolled;
    the resolution goes as success."""
    _site(factory, receiver.url("/health"))
    clock = FakeClock(local(2026, 6, 2, 9, 31))
    feed = Feed(factory, clock.now)
    stranger = card_pseudonym("5555 6666")
    feed.send(reading_event(stranger, local(2026, 6, 2, 9, 30), SPO2_LOW))
    feed.send(reading_event(card_pseudonym("3301 0600 1234"), local(2026, 6, 2, 9, 31), SPO2_LOW))
    with factory() as s:
        assert dispatch(s, clock.now) == 2
        s.commit()
    assert deliver(factory, AppriseSender(timeout_s=5), clock, "w1") == 2
    first, second = receiver.posts
    assert (first["type"], second["type"]) == ("failure", "failure")
    assert "UNIDENTIFIED" in first["message"] and "enrolled with consent" in second["message"]
    for post in (first, second):
        assert "86" not in post["message"] and stranger not in post["message"]
        assert "王阿姨" not in post["message"]
    with factory() as s:
        alert = s.scalars(select(Alert).order_by(Alert.id)).first()
        assert alert is not None
        resolve(alert, "referred", clock.now)
        dispatch(s, clock.now)
        s.commit()
    deliver(factory, AppriseSender(timeout_s=5), clock, "w1")
    assert receiver.posts[2]["type"] == "success"


def test_escalation_without_a_health_contact_is_logged_and_shown(
    factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    """Unacknowledged for 10 min, the crisis goes up to the street, which has no health
    contact: nothing is enqueued, a WARNING names the alert and the level, and the alert's
    detail lists ``not_delivered: ["street"]``."""
    _site(factory, "json://127.0.0.1:9/health")
    opened = local(2026, 6, 2, 9, 31)
    Feed(factory, opened).send(
        reading_event(card_pseudonym("5555 6666"), local(2026, 6, 2, 9, 30), SPO2_LOW)
    )
    with factory() as s:
        assert dispatch(s, opened) == 1
        s.commit()
    later = opened + timedelta(minutes=10, seconds=1)
    with factory() as s, caplog.at_level(logging.WARNING):
        (alert,) = escalate_due(s, later, None)
        assert dispatch(s, later) == 0
        s.commit()
    assert any(
        r.levelno == logging.WARNING and f"alert {alert.id}" in r.getMessage() and "street" in
        r.getMessage() for r in caplog.records
    )  # fmt: skip
    with factory() as s:
        assert s.get_one(Alert, alert.id).detail["not_delivered"] == ["street"]
        assert len(s.scalars(select(Notification)).all()) == 1
