"""Satisfaction votes from the exit terminals, and rectification items (issue 6).

A vote is stored once per event id. A rectification item is opened for a service (a
space) whose satisfaction rate in a period is under 80% and moves
``open -> fixed -> verified`` (4+5+X management rules: "满意度低于80%的服务项目须进行调整").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from facility_server.models.base import Base, UTCDateTime, utcnow


class SatisfactionVote(Base):
    """One button press: ``rating`` is very_satisfied, satisfied, dissatisfied or
    very_dissatisfied; ``ts_ms`` the event time (UTC ms, gateway time rules)."""

    __tablename__ = "satisfaction_votes"
    __table_args__ = (Index("ix_satisfaction_votes_space_ts", "space_id", "ts_ms"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"))
    space_code: Mapped[str] = mapped_column(String(64))
    device_code: Mapped[str] = mapped_column(String(64))
    rating: Mapped[str] = mapped_column(String(20))
    clock: Mapped[str] = mapped_column(String(16), default="synced")
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rectification(Base):
    """A service under 80% satisfaction in ``period`` (``2026H1``, ``2026-06`` ...).

    States: ``open`` -> ``fixed`` (by the complex's manager, with a note) -> ``verified``
    (by the district). ``rate_pct`` and ``votes`` are the figures that opened it.
    """

    __tablename__ = "rectifications"
    __table_args__ = (UniqueConstraint("space_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    rate_pct: Mapped[float] = mapped_column(Float)
    votes: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fixed_by: Mapped[str | None] = mapped_column(String(64))
    fix_note: Mapped[str] = mapped_column(String(500), default="")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by: Mapped[str | None] = mapped_column(String(64))
    verify_note: Mapped[str] = mapped_column(String(500), default="")
