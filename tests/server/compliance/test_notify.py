"""Notifications: a real HTTP receiver and a real SMTP server get what, where, since when
and who; device alerts go to another person; retries never duplicate; escalation goes up
the hierarchy until someone acknowledges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from facility_server.alerts import acknowledge
from facility_server.compliance.runner import ComplianceRunner
from facility_server.core.settings import get_settings
from facility_server.models import Alert, Complex, Contact, Notification
from facility_server.notify.sender import AppriseSender, channel_of, check_url, masked
from facility_server.setup.importer import import_setup_text
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .conftest import Receiver, Site, example_text, local


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _setup(factory: sessionmaker[Session], example_path: Path, contacts: str) -> Site:
    with factory() as s:
        import_setup_text(s, example_text(example_path, contacts))
        s.commit()
    return Site(factory)


def _manager(url: str) -> str:
    """The contacts section: one manager hearing task alerts at ``url``."""
    return f'  - {{code: m, name: 王丽, url: "{url}", topics: [tasks]}}\n'


def _runner(
    factory: sessionmaker[Session], db_url: str, clock: Callable[[], datetime], **kw: Any
) -> ComplianceRunner:
    settings = get_settings(database_url=db_url, notify_retry_s=60.0, **kw)
    return ComplianceRunner(
        factory, clock, settings, sender=AppriseSender(timeout_s=5), worker_id="w1"
    )


def _step(site: Site, runner: ComplianceRunner, clock: Clock, at: datetime) -> dict[str, Any]:
    clock.now = at
    site.tick(at)  # heartbeats and device health (the runner evaluates compliance itself)
    return runner.step()


def _region_contact(factory: sessionmaker[Session], level: str, url: str) -> None:
    with factory() as s:
        cx = s.scalars(select(Complex)).one()
        scope = cx.street_id if level == "street" else cx.district_id
        s.add(Contact(scope_kind=level, scope_id=scope, code=f"{level}-duty", name=f"{level} 值班",
                      url=url, topics=["tasks", "devices"], active=True))  # fmt: skip
        s.commit()


def test_task_and_device_alerts_reach_different_people(
    factory: sessionmaker[Session], example_path: Path, db_url: str, receiver: Receiver, smtp: Any
) -> None:
    """A missed task reaches the manager's webhook; the offline terminal IoT duty's email."""
    mail = (f"mailto://127.0.0.1:{smtp.port}?from=alerts@facility.test&to=iot@facility.test"
            "&mode=insecure")  # fmt: skip
    contacts = (
        f'  - {{code: manager, name: 王丽, url: "{receiver.url("/manager")}", topics: [tasks]}}\n'
        f'  - {{code: iot, name: 物联网值班, url: "{mail}", topics: [devices]}}\n'
    )
    site = _setup(factory, example_path, contacts)
    clock = Clock(local(2026, 6, 2, 5))
    runner = _runner(factory, db_url, clock)
    _step(site, runner, clock, local(2026, 6, 2, 5))
    _step(site, runner, clock, local(2026, 6, 2, 9, 15))
    [post] = receiver.posts
    assert post["path"] == "/manager" and post["title"].startswith("[ALERT]")
    body = post["message"]
    for needle in (
        "儿童游乐区开放前消毒",
        "曙光社区民生服务综合体",
        "儿童游乐区 (kids-play)",
        "Since: 2026-06-02 09:00 Asia/Shanghai",
        "Responsible: 刘芳 (s003)",
    ):
        assert needle in body
    assert smtp.messages == []
    site.down = {"ci-kids-play"}
    _step(site, runner, clock, local(2026, 6, 2, 9, 20))
    [envelope] = smtp.messages
    assert envelope.rcpt_tos == ["iot@facility.test"]
    msg = message_from_bytes(envelope.content)
    assert "ci-kids-play" in str(make_header(decode_header(msg["Subject"])))
    text = msg.get_payload()[0].get_payload(decode=True).decode()  # type: ignore[index,union-attr]
    assert "Since: 2026-06-02 09:15 Asia/Shanghai (last heard)" in text
    assert len(receiver.posts) == 1


def test_failed_sends_are_retried_without_duplicates(
    factory: sessionmaker[Session],
    example_path: Path,
    db_url: str,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The receiver fails twice: the message goes out on the third attempt, once; each
    failure is logged naming the contact (never its URL)."""
    site = _setup(factory, example_path, _manager(receiver.url("/m")))
    clock = Clock(local(2026, 6, 2, 5))
    runner = _runner(factory, db_url, clock)
    _step(site, runner, clock, local(2026, 6, 2, 5))
    site.patrol(local(2026, 6, 2, 9, 1))
    receiver.fail_next = 2
    _step(site, runner, clock, local(2026, 6, 2, 9, 15))
    _step(site, runner, clock, local(2026, 6, 2, 9, 15, 30))  # before the 60 s retry: nothing
    assert receiver.posts == [] and receiver.fail_next == 1
    _step(site, runner, clock, local(2026, 6, 2, 9, 16, 1))
    _step(site, runner, clock, local(2026, 6, 2, 9, 18, 1))
    _step(site, runner, clock, local(2026, 6, 2, 9, 30))
    assert len(receiver.posts) == 1
    with factory() as s:
        row = s.scalars(select(Notification)).one()
        assert (row.state, row.attempts) == ("sent", 3)
        assert receiver.posts[0]["key"] == row.key
    failed = [r.getMessage() for r in caplog.records if "failed (attempt" in r.getMessage()]
    assert len(failed) == 2 and all("contact 'm' (complex " in m for m in failed)
    assert all(receiver.url("/m") not in m for m in failed)


def test_escalation_goes_up_until_acknowledged_and_resolution_is_told(
    factory: sessionmaker[Session], example_path: Path, db_url: str, receiver: Receiver
) -> None:
    """Unacknowledged: street at 30 min, district at 60; all of them hear the resolution."""
    site = _setup(factory, example_path, _manager(receiver.url("/complex")))
    _region_contact(factory, "street", receiver.url("/street"))
    _region_contact(factory, "district", receiver.url("/district"))
    clock = Clock(local(2026, 6, 2, 5))
    runner = _runner(factory, db_url, clock)
    _step(site, runner, clock, local(2026, 6, 2, 5))
    site.patrol(local(2026, 6, 2, 9, 1))
    for hh, mm in ((9, 15), (9, 44), (9, 45), (10, 15)):  # alert 09:15, escalations every 30 min
        _step(site, runner, clock, local(2026, 6, 2, hh, mm))
    assert [(p["path"], p["title"].split("]")[0] + "]") for p in receiver.posts] == [
        ("/complex", "[ALERT]"),
        ("/street", "[ESCALATED to street]"),
        ("/district", "[ESCALATED to district]"),
    ]
    site.checkin(local(2026, 6, 2, 8, 50), "cp-kids-gate", "disinfection",
                 delivered_at=local(2026, 6, 2, 10, 20))  # fmt: skip
    _step(site, runner, clock, local(2026, 6, 2, 10, 21))
    resolved = sorted(p["path"] for p in receiver.posts if p["title"].startswith("[RESOLVED]"))
    assert resolved == ["/complex", "/district", "/street"]
    assert "late_data" in receiver.posts[-1]["message"]
    assert len({p["key"] for p in receiver.posts}) == len(receiver.posts) == 6


def test_acknowledged_alert_stops_escalating(
    factory: sessionmaker[Session], example_path: Path, db_url: str, receiver: Receiver
) -> None:
    """Acknowledged within 30 min: the street never hears of it."""
    site = _setup(factory, example_path, _manager(receiver.url("/complex")))
    _region_contact(factory, "street", receiver.url("/street"))
    clock = Clock(local(2026, 6, 2, 5))
    runner = _runner(factory, db_url, clock)
    _step(site, runner, clock, local(2026, 6, 2, 5))
    site.patrol(local(2026, 6, 2, 9, 1))
    _step(site, runner, clock, local(2026, 6, 2, 9, 15))
    with factory() as s:
        acknowledge(s.scalars(select(Alert)).one(), "manager_a", local(2026, 6, 2, 9, 20))
        s.commit()
    _step(site, runner, clock, local(2026, 6, 2, 9, 50))
    assert [p["path"] for p in receiver.posts] == ["/complex"]


def test_levels_with_nobody_to_tell_are_listed_on_the_alert(
    factory: sessionmaker[Session],
    example_path: Path,
    db_url: str,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The street has no contact: the escalation reaches nobody, and the alert says so
    (``not_delivered``) with one WARNING naming the level; the complex was told."""
    site = _setup(factory, example_path, _manager(receiver.url("/complex")))
    clock = Clock(local(2026, 6, 2, 5))
    runner = _runner(factory, db_url, clock)
    _step(site, runner, clock, local(2026, 6, 2, 5))
    site.patrol(local(2026, 6, 2, 9, 1))
    _step(site, runner, clock, local(2026, 6, 2, 9, 15))
    with factory() as s:
        assert "not_delivered" not in s.scalars(select(Alert)).one().detail
    _step(site, runner, clock, local(2026, 6, 2, 9, 45))  # escalated to the street
    with factory() as s:
        alert = s.scalars(select(Alert)).one()
        assert (alert.escalation_level, alert.detail["not_delivered"]) == (1, ["street"])
    assert [p["path"] for p in receiver.posts] == ["/complex"]
    warned = [r.getMessage() for r in caplog.records if "no active contact" in r.getMessage()]
    assert len(warned) == 1 and "topic tasks at the street level" in warned[0]


@pytest.mark.parametrize(
    ("url", "channel", "secret"),
    [
        (
            "dingtalk://0123456789abcdef0123456789abcdef/",
            "dingtalk",
            "0123456789abcdef0123456789abcdef",
        ),
        ("wecombot://ab12cd34-ef56-7890-abcd-ef1234567890", "wecombot", "ab12cd34-ef56-7890"),
        ("mailtos://alerts:s3cret-pw@smtp.example.com?to=a@example.com", "mailtos", "s3cret-pw"),
        ("json://hooks.example.com/facility", "json", None),
    ],
)
def test_channel_urls_are_understood_and_masked(url: str, channel: str, secret: str | None) -> None:
    """DingTalk, WeCom, email and webhook URLs parse; secrets never show when masked."""
    assert check_url(url) == url and channel_of(url) == channel
    if secret:
        assert secret not in masked(url)


def test_bad_url_is_refused_without_echoing_it() -> None:
    """An unknown scheme is refused; the error names the scheme, not the URL."""
    with pytest.raises(ValueError, match="nosuch") as err:
        check_url("nosuch://token-123@example.com")
    assert "token-123" not in str(err.value)


def test_known_scheme_with_a_malformed_rest_says_so() -> None:
    """dingtalk://ACCESS_TOKEN/ (an underscore in the token): the scheme is named as known
    and the form of the rest is explained, not "scheme 'dingtalk'" alone."""
    with pytest.raises(ValueError, match="scheme 'dingtalk' is known, but the rest") as err:
        check_url("dingtalk://ACCESS_TOKEN/")
    assert "ACCESS_TOKEN" not in str(err.value)
    with pytest.raises(ValueError, match="unknown scheme 'nosuch'"):
        check_url("nosuch://x")
