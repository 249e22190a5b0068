"""Safety-task compliance: task rules, check-ins, occurrences, contacts, the notification
outbox and the marks of compliance points written to the time-series store.

Engine-facing instants are stored as integer UTC epoch milliseconds (``*_ms``): the
evaluation tick reads and writes tens of thousands of rows and parsing datetimes would
dominate it (issue 5, benchmark: one tick <= 2 s). Columns people read are
:class:`UTCDateTime` as everywhere else.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from facility_server.models.base import Base, UTCDateTime, utcnow


class TaskRule(Base):
    """A task rule of one space (daily, patrol or quota); ``params`` is the validated spec
    of :mod:`facility_server.compliance.rules` (``kind`` and ``task`` repeated as columns)."""

    __tablename__ = "task_rules"
    __table_args__ = (
        UniqueConstraint("complex_id", "code"),
        # what task_occurrences' one foreign key refers to (see TaskOccurrence)
        Index("ix_task_rules_id_complex_space", "id", "complex_id", "space_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))
    task: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckIn(Base):
    """A staff check-in at a terminal, stored once per event id.

    ``ts_ms`` is the event time (device time, or the gateway-style estimate when the
    device clock was not synchronised; ``clock`` says which), ``received_ms`` when the
    server got it. ``accepted`` is False when the badge or checkpoint is unknown or the
    checkpoint is in another space (``reject_reason``); such check-ins satisfy nothing.
    """

    __tablename__ = "checkins"
    __table_args__ = (
        Index("ix_checkins_space_task_ts", "space_id", "task", "ts_ms"),
        Index("ix_checkins_task_ts", "task", "ts_ms"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"))
    space_code: Mapped[str] = mapped_column(String(64))
    checkpoint_code: Mapped[str] = mapped_column(String(64))
    device_code: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    proof: Mapped[str] = mapped_column(String(16))
    badge: Mapped[str] = mapped_column(String(32))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    accepted: Mapped[bool] = mapped_column(Boolean, default=True)
    reject_reason: Mapped[str] = mapped_column(String(64), default="")
    clock: Mapped[str] = mapped_column(String(16), default="synced")
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    received_ms: Mapped[int] = mapped_column(BigInteger)


class TaskOccurrence(Base):
    """One due instance of a rule as last evaluated (pending instances are not stored).

    ``key`` names the instance (``2026-06-02``, ``2026-06-02T09:00``, ``2026-W23``,
    ``2026-06``, ``2026``); ``day`` is its local date (the period's first day for quotas).
    Instants are UTC epoch ms; ``digest`` fingerprints the evaluated result so a tick
    writes only what changed.

    ``complex_id`` and ``space_id`` are always those of the rule: one foreign key on
    (``rule_id``, ``complex_id``, ``space_id``) refers to the rule (migration 0006), so
    an occurrence goes when its rule, space or complex goes (ON DELETE CASCADE) and moves
    with its rule when the setup file moves the rule to another space (ON UPDATE
    CASCADE). One check per row instead of three separate keys: the first tick of a day
    inserts 66,000 rows in the issue 5 benchmark, and PostgreSQL checks keys row by row.
    """

    __tablename__ = "task_occurrences"
    __table_args__ = (
        UniqueConstraint("rule_id", "key"),
        ForeignKeyConstraint(
            ["rule_id", "complex_id", "space_id"],
            ["task_rules.id", "task_rules.complex_id", "task_rules.space_id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        Index("ix_task_occurrences_complex_day", "complex_id", "day"),
        Index("ix_task_occurrences_rule_day", "rule_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(Integer)
    complex_id: Mapped[int] = mapped_column(Integer)
    space_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    start_ms: Mapped[int] = mapped_column(BigInteger)
    deadline_ms: Mapped[int] = mapped_column(BigInteger)
    alert_ms: Mapped[int] = mapped_column(BigInteger)
    until_ms: Mapped[int] = mapped_column(BigInteger)
    done_ms: Mapped[int | None] = mapped_column(BigInteger)
    reported_ms: Mapped[int | None] = mapped_column(BigInteger)
    done_count: Mapped[int] = mapped_column(Integer, default=0)
    needed_count: Mapped[int] = mapped_column(Integer, default=1)
    satisfied_by: Mapped[list[int]] = mapped_column(JSON, default=list)
    missing: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(String(200), default="")
    digest: Mapped[str] = mapped_column(String(16))
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class Contact(Base):
    """Who is told about alerts at one node of the hierarchy, and how.

    ``scope_kind`` is ``complex``, ``street`` or ``district`` and ``scope_id`` that node's
    id (``complex_id`` is set for complex contacts so they go with their complex).
    ``url`` is an Apprise URL (``json://``, ``dingtalk://``, ``wecombot://``, ``mailto://``)
    and may hold a token: never log it. ``topics`` lists ``tasks`` (task not done) and/or
    ``devices`` (terminal or edge offline). A contact with ``staff_code`` hears task alerts
    only of rules that staff member is responsible for.
    """

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("scope_kind", "scope_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int] = mapped_column(Integer)
    complex_id: Mapped[int | None] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    staff_code: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Notification(Base):
    """The outbox: one message to one contact about one state change of one alert.

    ``key`` = ``alert:contact:channel:event`` is unique, so enqueueing twice (two server
    processes) makes one row; a worker claims a row (``claimed_by`` until
    ``claimed_until``), sends it and marks it ``sent``. States: ``pending``, ``sent``,
    ``failed`` (gave up after the maximum attempts), ``cancelled`` (contact gone).
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(300), default="")


class SeriesMark(Base):
    """Which day's compliance points of a complex were written, with the counts' digest
    (a later change, e.g. late data, writes the day again)."""

    __tablename__ = "compliance_series_marks"

    complex_id: Mapped[int] = mapped_column(
        ForeignKey("complexes.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    digest: Mapped[str] = mapped_column(String(32))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
