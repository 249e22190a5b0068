"""The hierarchy: district -> street -> community (regions) -> complex -> space.

Regions share one table keyed by a unique slash path (``xihu/beishan/qushuiyuan``).
A complex carries the ids of its community, street and district, so "everything in
this subtree" is one indexed equality, not a recursive query.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility_server.models.base import Base, UTCDateTime, utcnow


class Region(Base):
    """A district (区/县), street (街道/乡镇) or community (社区/村)."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    path: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Complex(Base):
    """A service complex (综合体): a site with a time zone and its holiday policy."""

    __tablename__ = "complexes"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    public_holidays: Mapped[str] = mapped_column(String(16), default="closed")
    makeup_workdays: Mapped[str] = mapped_column(String(16), default="regular")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    spaces: Mapped[list[Space]] = relationship(back_populates="complex", order_by="Space.id")


class Space(Base):
    """A room or area with one 4+5+X service type, a capacity and weekly hours.

    ``weekly_hours`` maps ``mon``..``sun`` to ``["09:00-17:30", ...]`` (local time of
    the complex); see :mod:`facility_server.opening`.
    """

    __tablename__ = "spaces"
    __table_args__ = (UniqueConstraint("complex_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32), index=True)
    capacity: Mapped[int] = mapped_column(Integer)
    weekly_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    complex: Mapped[Complex] = relationship(back_populates="spaces")


class CalendarException(Base):
    """A dated exception: closed all day, or open with special hours.

    ``space_id`` None applies to every space of the complex; a space's own exception wins.
    """

    __tablename__ = "calendar_exceptions"
    __table_args__ = (UniqueConstraint("complex_id", "space_key", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    space_key: Mapped[int] = mapped_column(Integer, default=0)
    day: Mapped[date] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, default=True)
    hours: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(200), default="")
