"""Helpers for the health-kiosk tests: the shipped example complex, members with
pseudonyms made as the edge makes them, and ``health.reading`` events sent through the
real codec and ingest (``Ingest.handle``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from facility_contracts import codec, topics
from facility_contracts.envelope import Event, HealthReading, HealthReadingBody, HealthReadingItem
from facility_contracts.vitals import QUANTITIES, pseudonymise
from facility_server.ingest.subscriber import Ingest
from facility_server.models import Complex, Contact, Device, Space
from facility_server.setup.importer import import_setup_text
from facility_server.vitals.consent import enrol, record_consent
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

SH = ZoneInfo("Asia/Shanghai")
EXAMPLE = Path(__file__).resolve().parents[3] / "server" / "examples" / "setup.yaml"
SITE = "xihu-beishan-shuguang"
KIOSK = "hk-elderly-care"
SPACE = "elderly-care"
KEY = b"complex-secret-key-0123456789"


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A Shanghai wall time as an aware datetime."""
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def ms(at: datetime) -> int:
    """Aware datetime -> UTC epoch ms."""
    return int(at.timestamp() * 1000)


def card_pseudonym(card: str) -> str:
    """The pseudonym the edge makes of a member card under the test key."""
    return pseudonymise(card, KEY)


def example(session: Session, site: str = SITE) -> Complex:
    """Import the shipped example complex (optionally under another site id)."""
    import_setup_text(session, EXAMPLE.read_text(encoding="utf-8").replace(SITE, site))
    return session.scalars(select(Complex).where(Complex.site_id == site)).one()


def member(
    session: Session, cx: Complex, card: str, name: str, consent_at: datetime | None
) -> tuple[int, str]:
    """Enrol a member (with a consent given at ``consent_at`` unless None); (id, pseudonym)."""
    pseudonym = card_pseudonym(card)
    now = consent_at or datetime(2026, 6, 1, tzinfo=UTC)
    m = enrol(session, cx.id, pseudonym, name, by="desk-1", now=now)
    if consent_at is not None:
        record_consent(
            session,
            m,
            purpose="health_monitoring",
            granted_at=consent_at,
            evidence="HF-2026-0001",
            by="desk-1",
            now=consent_at,
        )
    return m.id, pseudonym


def kiosk_device(session: Session, cx: Complex, code: str, space_code: str) -> None:
    """Register another health kiosk of the complex, standing in ``space_code``."""
    space = session.scalars(
        select(Space).where(Space.complex_id == cx.id, Space.code == space_code)
    ).one()
    session.add(
        Device(
            complex_id=cx.id, code=code, kind="health_kiosk", space_id=space.id,
            transport="local_mqtt",
        )
    )  # fmt: skip
    session.flush()


def health_contact(session: Session, cx: Complex) -> None:
    """The health station's duty group as the complex's only contact with topic ``health``
    (the example file's own health contact is removed, so the test owns its recipients)."""
    for old in session.scalars(select(Contact).where(Contact.complex_id == cx.id)):
        if "health" in (old.topics or []):
            session.delete(old)
    session.flush()
    session.add(
        Contact(
            scope_kind="complex",
            scope_id=cx.id,
            complex_id=cx.id,
            code="health-duty",
            name="健康服务站值班",
            url="json://127.0.0.1:9/hook",
            topics=["health"],
            active=True,
        )
    )


def reading_event(
    pseudonym: str,
    at: datetime,
    readings: list[tuple[str, float]],
    *,
    event_id: str | None = None,
    space: str = SPACE,
    kiosk: str = KIOSK,
) -> HealthReading:
    """A synchronised ``health.reading`` event; units and LOINC from the contract table."""
    return HealthReading(
        id=event_id or str(uuid.uuid4()),
        device=kiosk,
        boot="b1",
        seq=1,
        ts=ms(at),
        mono=1,
        synced=True,
        body=HealthReadingBody(
            member=pseudonym,
            space=space,
            readings=[
                HealthReadingItem(
                    type=t, value=v, unit=QUANTITIES[t].unit, loinc=QUANTITIES[t].loinc
                )
                for t, v in readings
            ],
        ),
    )


@dataclass
class Feed:
    """Sends events through the real codec and ingest, as the MQTT subscriber does."""

    factory: sessionmaker[Session]
    now: datetime
    site: str = SITE
    results: list[bool] = field(default_factory=list)

    def send(self, event: Event) -> bool:
        """Encode, decode and store one event at ``now``; True when stored."""
        ingest = Ingest(
            self.factory, "mqtt://127.0.0.1:1", client_id="unit", clock=lambda: self.now
        )
        ok = ingest.handle(topics.event_topic(self.site, event.device), codec.encode_event(event))
        self.results.append(ok)
        return ok

    def later(self, minutes: float) -> None:
        """Move the ingest clock forward."""
        self.now += timedelta(minutes=minutes)
