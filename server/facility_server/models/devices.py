"""Devices, staff with badges, and checkpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from facility_server.models.base import Base, UTCDateTime, utcnow


class Device(Base):
    """A device of a complex; ``code`` is its MQTT topic level (facility_contracts.ids).

    ``via_id`` names the edge agent a serial device is read by. ``state``/``last_seen``/
    ``heartbeat_s`` come from status messages (UTC; seconds).
    """

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("complex_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(32))
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"))
    transport: Mapped[str] = mapped_column(String(16))
    via_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    firmware: Mapped[str] = mapped_column(String(64), default="")
    mqtt_username: Mapped[str | None] = mapped_column(String(128), unique=True)
    mqtt_secret_hash: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(16))
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_s: Mapped[float | None] = mapped_column(Float)
    health: Mapped[str] = mapped_column(String(16), default="never_seen", index=True)
    health_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    boot: Mapped[str | None] = mapped_column(String(64))
    software: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Staff(Base):
    """A person working at a complex (personal data: reads are audited)."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("complex_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    duty: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Badge(Base):
    """A staff card; ``uid`` canonical (facility_contracts.cards), unique per complex."""

    __tablename__ = "badges"
    __table_args__ = (UniqueConstraint("complex_id", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complex_id: Mapped[int] = mapped_column(ForeignKey("complexes.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(32))


class Checkpoint(Base):
    """A patrol or task point bound to a space: an NFC tag (canonical uid) or a QR id."""

    __tablename__ = "checkpoints"
    __table_args__ = (
        UniqueConstraint("complex_id", "code"),
        UniqueConstraint("complex_id", "tag_kind", "tag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    tag_kind: Mapped[str] = mapped_column(String(8))
    tag: Mapped[str] = mapped_column(String(64))
