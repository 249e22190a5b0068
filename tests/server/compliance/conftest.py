"""Compliance fixtures: the example complex driven through the real ingest path, local
times as fixed-offset datetimes (Asia/Shanghai is UTC+8 all year: no zoneinfo needed to
compute expected values), and real receivers (HTTP, SMTP) for notifications."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from facility_contracts.envelope import CheckIn, CheckInBody, Status
from facility_contracts.topics import Topic
from facility_server.compliance.tick import TickReport, compliance_tick
from facility_server.health.tick import health_tick
from facility_server.ingest.store import store_event, store_status
from facility_server.models import Alert, TaskOccurrence, TaskRule
from facility_server.setup.importer import import_setup_text
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

CST = timezone(timedelta(hours=8))
SITE = "xihu-beishan-shuguang"
SERIAL = [
    f"dc-{s}"
    for s in (
        "elderly-care", "elderly-meal", "infant-care", "child-care", "aid", "disability-care",
        "housekeeping", "health", "fitness", "culture", "kids-play", "legal-aid",
    )
]  # fmt: skip
MQTT = ["ci-kids-play", "hk-elderly-care", "sat-elderly-meal", "sat-health", "sat-culture",
        "sat-kids-play"]  # fmt: skip
KIDS_CPS = ["cp-kids-gate", "cp-kids-slide", "cp-kids-sandpit", "cp-kids-toys"]
#: Badges of the example's staff, canonical: s002 patrols, s003 disinfects.
PATROLLER, CLEANER = "04A23B1D", "04A23B1E"


def local(*args: int) -> datetime:
    """A local (Asia/Shanghai, UTC+8) instant: local(2026, 6, 2, 9, 15)."""
    return datetime(*args, tzinfo=CST)  # type: ignore[misc]


def ms(at: datetime) -> int:
    """UTC epoch ms of an aware datetime."""
    return int(at.timestamp() * 1000)


@dataclass
class Site:
    """The example complex in this test's database, driven like the field drives it."""

    factory: sessionmaker[Session]
    seq: int = 0
    down: set[str] = field(default_factory=set)
    site_id: str = SITE

    def checkin(
        self,
        done_at: datetime,
        checkpoint: str,
        task: str,
        *,
        delivered_at: datetime | None = None,
        badge: str = CLEANER,
        space: str = "kids-play",
        device: str = "ci-kids-play",
    ) -> bool:
        """A check-in done at ``done_at`` (device clock synced), delivered at
        ``delivered_at`` (default: at once), through ``store_event``; committed."""
        self.seq += 1
        event = CheckIn(
            id=f"evt-{uuid.uuid4().hex[:16]}",
            device=device,
            boot="b1",
            seq=self.seq,
            ts=ms(done_at),
            mono=self.seq,
            synced=True,
            body=CheckInBody(
                badge=badge,
                checkpoint=checkpoint,
                space=space,
                task=task,
                method="rfid",
                proof="badge",
            ),  # type: ignore[arg-type]
        )
        with self.factory() as s:
            topic = Topic(self.site_id, device, "evt")
            stored = store_event(s, topic, event, delivered_at or done_at)
            s.commit()
        return stored

    def patrol(self, at: datetime, checkpoints: list[str] | None = None) -> None:
        """Visit checkpoints one minute apart from ``at``."""
        for i, cp in enumerate(checkpoints if checkpoints is not None else KIDS_CPS):
            self.checkin(at + timedelta(minutes=i), cp, "patrol", badge=PATROLLER)

    def heartbeat(self, at: datetime) -> None:
        """Every device not in ``down`` reports online at ``at`` (heartbeat 30 s)."""
        with self.factory() as s:
            serial = {d: "ok" for d in SERIAL}
            if "edge-main" not in self.down:
                _status(s, self.site_id, "edge-main", at, serial)
            for d in MQTT:
                if d not in self.down:
                    _status(s, self.site_id, d, at)
            s.commit()

    def tick(self, at: datetime, **kwargs: Any) -> TickReport:
        """Heartbeats, the device-health tick and the compliance tick at ``at``; committed."""
        self.heartbeat(at)
        with self.factory() as s:
            health_tick(s, at)
            report = compliance_tick(s, at, **kwargs)
            s.commit()
        return report

    def alerts(self, kind: str | None = None) -> list[Alert]:
        """Alerts (of ``kind``) in id order."""
        with self.factory() as s:
            stmt = select(Alert).order_by(Alert.id)
            if kind:
                stmt = stmt.where(Alert.kind == kind)
            return list(s.scalars(stmt))

    def occurrence(self, rule: str, key: str) -> TaskOccurrence | None:
        """The stored occurrence ``key`` of rule ``rule``."""
        with self.factory() as s:
            return s.scalar(
                select(TaskOccurrence)
                .join(TaskRule, TaskRule.id == TaskOccurrence.rule_id)
                .where(TaskRule.code == rule, TaskOccurrence.key == key)
            )


def _status(
    s: Session, site: str, device: str, at: datetime, devices: dict[str, str] | None = None
) -> None:
    store_status(
        s,
        Topic(site, device, "status"),
        Status(device=device, state="online", heartbeat_s=30.0, devices=devices),
        at,
    )


def example_text(example_path: Path, contacts: str | None = None) -> str:
    """The example setup file, its contacts section replaced by ``contacts`` (YAML)."""
    text = example_path.read_text(encoding="utf-8")
    head = text.split("\ncontacts:\n")[0]
    return head + ("\ncontacts:\n" + contacts if contacts else "\ncontacts: []\n")


@pytest.fixture
def site(factory: sessionmaker[Session], example_path: Path) -> Site:
    """The example complex (its contacts removed), imported into this test's database."""
    with factory() as s:
        import_setup_text(s, example_text(example_path))
        s.commit()
    return Site(factory)


class Receiver:
    """A real HTTP server on a free loopback port that records JSON POSTs.

    ``fail_next`` answers that many requests with 500 first (to test retries).
    """

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.fail_next = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"] or 0))
                if owner.fail_next > 0:
                    owner.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                owner.posts.append(
                    {
                        "path": self.path,
                        "key": self.headers.get("X-Facility-Key"),
                        **json.loads(body),
                    }
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """An Apprise json:// URL to ``path`` on this receiver."""
        return f"json://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP receiver of webhook notifications."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp() -> Iterator[Any]:
    """A local SMTP server (aiosmtpd) on a free port; ``.messages`` holds envelopes."""
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[Any] = []

        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            self.messages.append(envelope)
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


@pytest.fixture(params=["UTC", "America/New_York", "Pacific/Kiritimati"])
def process_tz(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the server process in another local zone (UTC, UTC-5/-4, UTC+14)."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()
