"""What arrives from the field (door crossings, notices) and the one alert model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from facility_server.models.base import Base, UTCDateTime, utcnow


class DoorCrossing(Base):
    """People in/out of a space since the previous event (event id unique: idempotent)."""

    __tablename__ = "door_crossings"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    complex_id: Mapped[int] = mapped_column(ForeignKey("complexes.id", ondelete="CASCADE"))
    space_id: Mapped[int | None] = mapped_column(
        ForeignKey("spaces.id", ondelete="SET NULL"), index=True
    )
    space_code: Mapped[str] = mapped_column(String(64))
    device_code: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    people_in: Mapped[int] = mapped_column(Integer)
    people_out: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceNotice(Base):
    """A device notice (power cycle, wrap, frame gap ...) kept for device health."""

    __tablename__ = "device_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    device_code: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(200), default="")
    ts: Mapped[datetime] = mapped_column(UTCDateTime)


class Alert(Base):
    """The one alert model: open -> acknowledged -> resolved.

    ``dedupe_key`` = ``kind:subject:occurrence`` is unique, so two server processes
    evaluating the same condition cannot open the same alert twice. Later issues
    (compliance) add escalation and notifications to this model, not a second one.
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    occurrence: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    complex_id: Mapped[int | None] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(64))
