"""What arrives from the field (door crossings, notices) and the one alert model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, false
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
    evaluating the same condition cannot open the same alert twice.

    Escalation (issue 5): an open alert not acknowledged within ``escalate_after_s``
    (None: the server's default) moves up one ``escalation_level`` (0 complex, 1 street,
    2 district) at ``escalated_at``. ``notified_level`` is the highest level whose
    notifications were enqueued (-1: none yet) and ``notified_resolved`` whether the
    resolution was; ``note`` says why it was resolved (e.g. late data).
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
    note: Mapped[str | None] = mapped_column(String(300))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalate_after_s: Mapped[float | None] = mapped_column(Float)
    notified_level: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    notified_resolved: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), index=True
    )
