"""Two server processes (two threads, each with its own engine and sessions, on the same
SQLite file or PostgreSQL database) evaluate, escalate and notify at the same instants:
every alert is opened once and every message is delivered once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from facility_server.compliance.runner import ComplianceRunner
from facility_server.core.db import make_engine, session_factory
from facility_server.core.settings import get_settings
from facility_server.health.tick import health_tick
from facility_server.models import Alert, Complex, Contact, Notification
from facility_server.notify.sender import AppriseSender
from facility_server.setup.importer import import_setup_text
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .conftest import Receiver, Site, example_text, local


class Clock:
    """A clock both "processes" share (set between steps)."""

    now: datetime = local(2026, 6, 2, 5)

    def __call__(self) -> datetime:
        return self.now


def _prepare(factory: sessionmaker[Session], example_path: Path, receiver: Receiver) -> Site:
    contacts = (
        f'  - {{code: m, name: 王丽, url: "{receiver.url("/complex")}", topics: [tasks]}}\n'
        f'  - {{code: it, name: 运维, url: "{receiver.url("/it")}", topics: [devices]}}\n'
    )
    with factory() as s:
        import_setup_text(s, example_text(example_path, contacts))
        cx = s.scalars(select(Complex)).one()
        s.add(Contact(scope_kind="street", scope_id=cx.street_id, code="street", name="街道",
                      url=receiver.url("/street"), topics=["tasks"], active=True))  # fmt: skip
        s.commit()
    return Site(factory)


def _run(runner: ComplianceRunner, barrier: threading.Barrier, results: list[Any]) -> None:
    barrier.wait()
    results.append(runner.step())


def test_two_processes_notify_each_alert_once(
    factory: sessionmaker[Session], example_path: Path, db_url: str, receiver: Receiver
) -> None:
    """Two processes stepping together deliver each (alert, contact, event) exactly once."""
    site = _prepare(factory, example_path, receiver)
    clock = Clock()
    settings = get_settings(database_url=db_url, notify_retry_s=1.0)
    engines = [make_engine(db_url) for _ in range(2)]
    runners = [
        ComplianceRunner(
            session_factory(e), clock, settings, sender=AppriseSender(), worker_id=f"p{i}"
        )
        for i, e in enumerate(engines)
    ]
    results: list[dict[str, Any]] = []
    steps = [(5, 0), (9, 15), (9, 31), (9, 45), (10, 31), (10, 45), (11, 31)]
    for hh, mm in steps:
        at = local(2026, 6, 2, hh, mm)
        if (hh, mm) == (10, 45):
            site.down = {"ci-kids-play"}
        site.heartbeat(at)
        with factory() as s:
            health_tick(s, at)
            s.commit()
        clock.now = at
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=_run, args=(r, barrier, results)) for r in runners]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    for e in engines:
        e.dispose()
    assert all(r["tick"] is not None and r["sent"] is not None for r in results), results
    with factory() as s:
        alerts = list(s.scalars(select(Alert)))
        rows = list(s.scalars(select(Notification)))
    kinds = Counter(a.kind for a in alerts)
    assert kinds["task_missed"] >= 3 and kinds["device_offline"] == 1
    assert len({a.dedupe_key for a in alerts}) == len(alerts)
    keys = Counter(p["key"] for p in receiver.posts)
    assert keys and max(keys.values()) == 1, keys
    assert set(keys) == {r.key for r in rows} and all(r.state == "sent" for r in rows)
    street = [p for p in receiver.posts if p["path"] == "/street"]
    escalated = [a for a in alerts if a.kind == "task_missed" and a.escalation_level >= 1]
    assert len(street) == len(escalated) >= 2
    assert {p["path"] for p in receiver.posts} == {"/complex", "/street", "/it"}


class SlowSender:
    """Records what it sends and takes a few ms per message, so workers overlap."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, url: str, title: str, body: str, key: str, *, notify_type: str = "info") -> None:
        import time

        time.sleep(0.005)
        with self.lock:
            self.sent.append(key)


def test_two_workers_never_send_the_same_row(
    factory: sessionmaker[Session], example_path: Path, db_url: str
) -> None:
    """60 pending rows, two workers in small batches at once: each row is sent exactly once."""
    with factory() as s:
        import_setup_text(s, example_text(example_path))
        cx = s.scalars(select(Complex)).one()
        contact = Contact(
            scope_kind="complex", scope_id=cx.id, complex_id=cx.id, code="m", name="m",
            url="json://127.0.0.1:9/x", topics=["tasks"], active=True,
        )  # fmt: skip
        alert = Alert(kind="task_missed", subject="s", occurrence="o", dedupe_key="k", title="t",
                      complex_id=cx.id, detail={}, opened_at=Clock.now)  # fmt: skip
        s.add_all([contact, alert])
        s.flush()
        for i in range(60):
            s.add(Notification(key=f"row-{i}", alert_id=alert.id, contact_id=contact.id,
                               channel="json", recipient="m", event=f"e{i}", title="t", body="b",
                               state="pending", attempts=0, next_attempt_at=Clock.now,
                               created_at=Clock.now, last_error=""))  # fmt: skip
        s.commit()
    from facility_server.notify.worker import WorkerConfig, deliver

    sender, barrier = SlowSender(), threading.Barrier(2)
    engines = [make_engine(db_url) for _ in range(2)]

    def work(i: int) -> None:
        barrier.wait()
        f = session_factory(engines[i])
        while deliver(f, sender, Clock(), f"w{i}", WorkerConfig(batch=4)):
            pass

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for e in engines:
        e.dispose()
    assert sorted(sender.sent) == sorted(f"row-{i}" for i in range(60))
    with factory() as s:
        rows = list(s.scalars(select(Notification)))
    assert all(r.state == "sent" and r.attempts == 1 for r in rows)
    assert {r.claimed_by for r in rows} == {"w0", "w1"}
