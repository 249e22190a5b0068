"""Health-kiosk tables (issue 7): members, consents, measuring sessions, readings, and the
hourly usage counters.

What holds personal data, and for how long (PIPL art. 19, 28-29):

- ``vital_members``: pseudonym (``m1-`` + 32 hex, made at the edge) and the name a
  clinician knows the member by; kept until erasure.
- ``vital_consents``: who recorded a separate consent to which purpose, when, on what
  evidence (form number), and its withdrawal; erased with the member.
- ``vital_sessions``: one row per ``health.reading`` event (stored once by event id).
  ``member_id`` is set only for a session whose member had consent; no value is kept here,
  only which reading types were in a crisis range and in which direction
  (``crisis_flags``, for the clinician's follow-up of an unidentified person). Deleted
  after the retention (``vitals_retention_days``).
- ``vital_purged_events``: the event ids (and reading times) of sessions the purge deleted
  or that arrived already older than the retention: no member, no value, no place. Kept
  :data:`facility_server.vitals.retention.DEDUPE_KEEP_DAYS` after the retention, so an
  edge's resend of a purged session is recognised and neither stored nor counted again.
- ``vital_readings``: values, only with consent; deleted after the retention, on
  withdrawal and on erasure.
- ``vital_usage_hours`` / ``vital_reading_hours``: counts per space and local clock hour,
  no person in them; kept.
- ``vital_hour_salts`` / ``vital_hour_visitors``: salted hashes of the pseudonyms seen in
  an hour, only to count distinct members; both dropped a short time after the hour ends
  (``vitals_visitor_keep_s``), after which nothing links the count to anybody.

Instants are UTC (:class:`UTCDateTime`); ``*_ms`` are UTC epoch ms of a local clock hour's
start in the complex's zone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from facility_server.models.base import Base, UTCDateTime


class Member(Base):
    """A member of a complex known to its health station, by the pseudonym of their card."""

    __tablename__ = "vital_members"
    __table_args__ = (UniqueConstraint("complex_id", "pseudonym"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    pseudonym: Mapped[str] = mapped_column(String(35))
    display_name: Mapped[str] = mapped_column(String(200))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enrolled_by: Mapped[str] = mapped_column(String(64))


class Consent(Base):
    """A member's separate consent to one purpose (PIPL art. 29), and its withdrawal.

    ``granted_at`` is when the member consented (the signed form's time, not after the
    recording); ``evidence`` names the proof (form number), never health data.
    """

    __tablename__ = "vital_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("vital_members.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[str] = mapped_column(String(200), default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))


class KioskSession(Base):
    """One measuring session (one ``health.reading`` event), stored once by event id.

    ``consented``: the member had consent at the reading time, so values were kept.
    ``crisis``: a reading was in a crisis range (``alert_id``: the alert it opened);
    ``crisis_flags``: which, as ``["spo2:low", "systolic_bp:high"]`` (no value).
    ``member_id``: only for consented sessions; None otherwise and after erasure.
    ``clock``: ``synced`` or ``estimated`` (device clock not trusted, gateway rules).
    """

    __tablename__ = "vital_sessions"
    __table_args__ = (Index("ix_vital_sessions_complex_ts", "complex_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    complex_id: Mapped[int] = mapped_column(ForeignKey("complexes.id", ondelete="CASCADE"))
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"))
    space_code: Mapped[str] = mapped_column(String(64))
    device_code: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    clock: Mapped[str] = mapped_column(String(16))
    consented: Mapped[bool] = mapped_column(Boolean)
    crisis: Mapped[bool] = mapped_column(Boolean)
    crisis_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("vital_members.id", ondelete="SET NULL"), index=True
    )
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PurgedEvent(Base):
    """The event id of a session no longer held (purged, or too old when it arrived) and
    its reading time (UTC), only to recognise a resend; nothing else about it."""

    __tablename__ = "vital_purged_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Reading(Base):
    """One kept reading (consent at the reading time): value in ``unit``
    (:data:`facility_contracts.vitals.QUANTITIES`), LOINC code, ``flag`` from
    :func:`facility_contracts.vitals.classify`."""

    __tablename__ = "vital_readings"
    __table_args__ = (Index("ix_vital_readings_member_ts", "member_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("vital_sessions.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("vital_members.id", ondelete="CASCADE"))
    complex_id: Mapped[int] = mapped_column(ForeignKey("complexes.id", ondelete="CASCADE"))
    space_code: Mapped[str] = mapped_column(String(64))
    device_code: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(24))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(10))
    loinc: Mapped[str] = mapped_column(String(10))
    flag: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class _SpaceHour:
    """Key columns of a row about one space of a complex in one local clock hour."""

    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), primary_key=True
    )
    space_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    start_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class UsageHour(_SpaceHour, Base):
    """Sessions at one space's kiosks in one local clock hour (no person in it)."""

    __tablename__ = "vital_usage_hours"

    sessions: Mapped[int] = mapped_column(Integer, default=0)
    members: Mapped[int] = mapped_column(Integer, default=0)
    consented: Mapped[int] = mapped_column(Integer, default=0)
    crisis: Mapped[int] = mapped_column(Integer, default=0)


class ReadingHour(_SpaceHour, Base):
    """Readings of one type at one space in one local clock hour (no person, no value)."""

    __tablename__ = "vital_reading_hours"

    reading_type: Mapped[str] = mapped_column(String(24), primary_key=True)
    readings: Mapped[int] = mapped_column(Integer, default=0)
    evaluated: Mapped[int] = mapped_column(Integer, default=0)
    outside_reference: Mapped[int] = mapped_column(Integer, default=0)


class HourSalt(Base):
    """A random salt per hour start (UTC ms) for the visitor hashes of that hour."""

    __tablename__ = "vital_hour_salts"

    start_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))


class HourVisitor(_SpaceHour, Base):
    """A salted hash of a pseudonym seen at a space in an hour (distinct-member count)."""

    __tablename__ = "vital_hour_visitors"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
