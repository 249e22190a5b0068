"""Utilisation aggregates per space: local clock hours and local days (issue 6).

Instants are integer UTC epoch ms (``*_ms``), as in the compliance tables: the half-year
report of a district reads hundreds of thousands of rows. ``day`` is the local date of
the complex's zone. Durations are minutes (``*_min``); people are counts.
Definitions: docs/metrics.md.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from facility_server.models.base import Base


class UtilisationHour(Base):
    """One local clock hour of one space (only hours with opening or activity are kept)."""

    __tablename__ = "utilisation_hours"
    __table_args__ = (Index("ix_utilisation_hours_complex_day", "complex_id", "day"),)

    space_id: Mapped[int] = mapped_column(
        ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True
    )
    start_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    complex_id: Mapped[int] = mapped_column(ForeignKey("complexes.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    exits: Mapped[int] = mapped_column(Integer, default=0)
    peak: Mapped[int] = mapped_column(Integer, default=0)
    clamped: Mapped[int] = mapped_column(Integer, default=0)
    open_min: Mapped[float] = mapped_column(Float, default=0.0)
    occupied_min: Mapped[float] = mapped_column(Float, default=0.0)
    person_min: Mapped[float] = mapped_column(Float, default=0.0)


class UtilisationDay(Base):
    """One local day of one space: the hours summed, plus drift and actual opening.

    ``drift`` is the people still counted inside at the day's reset (closing time);
    ``actual_open_min`` and ``evidence`` (``checkin``, ``door``, ``none``) describe how
    long the space was actually open; ``first_ms``/``last_ms`` its first and last door
    event; ``updated_ms`` when the row was computed.
    """

    __tablename__ = "utilisation_days"
    __table_args__ = (Index("ix_utilisation_days_complex_day", "complex_id", "day"),)

    space_id: Mapped[int] = mapped_column(
        ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    complex_id: Mapped[int] = mapped_column(ForeignKey("complexes.id", ondelete="CASCADE"))
    visits: Mapped[int] = mapped_column(Integer, default=0)
    exits: Mapped[int] = mapped_column(Integer, default=0)
    peak: Mapped[int] = mapped_column(Integer, default=0)
    clamped: Mapped[int] = mapped_column(Integer, default=0)
    drift: Mapped[int] = mapped_column(Integer, default=0)
    open_min: Mapped[float] = mapped_column(Float, default=0.0)
    occupied_min: Mapped[float] = mapped_column(Float, default=0.0)
    person_min: Mapped[float] = mapped_column(Float, default=0.0)
    actual_open_min: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[str] = mapped_column(String(8), default="none")
    first_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_ms: Mapped[int | None] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
