"""Health kiosks: members, consents, sessions, readings, hourly usage counters.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
MS = sa.BigInteger()


def _fk(name: str, table: str, ondelete: str, **kw: object) -> sa.Column[int]:
    return sa.Column(
        name,
        sa.Integer(),
        sa.ForeignKey(f"{table}.id", ondelete=ondelete),
        **kw,  # type: ignore[arg-type]
    )


def _key() -> list[sa.Column[object]]:
    return [
        _fk("complex_id", "complexes", "CASCADE", nullable=False),
        sa.Column("space_code", sa.String(64), nullable=False),
        sa.Column("start_ms", MS, nullable=False),
    ]


def _people() -> None:
    op.create_table(
        "vital_members",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("complex_id", "complexes", "CASCADE", nullable=False),
        sa.Column("pseudonym", sa.String(35), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("enrolled_at", TS, nullable=False),
        sa.Column("enrolled_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("complex_id", "pseudonym"),
    )
    op.create_index("ix_vital_members_complex_id", "vital_members", ["complex_id"])
    op.create_table(
        "vital_consents",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("member_id", "vital_members", "CASCADE", nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("granted_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("evidence", sa.String(200), nullable=False),
        sa.Column("withdrawn_at", TS, nullable=True),
        sa.Column("withdrawn_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_vital_consents_member_id", "vital_consents", ["member_id"])


def _sessions() -> None:
    op.create_table(
        "vital_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        _fk("complex_id", "complexes", "CASCADE", nullable=False),
        _fk("space_id", "spaces", "SET NULL", nullable=True),
        sa.Column("space_code", sa.String(64), nullable=False),
        sa.Column("device_code", sa.String(64), nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.Column("clock", sa.String(16), nullable=False),
        sa.Column("consented", sa.Boolean(), nullable=False),
        sa.Column("crisis", sa.Boolean(), nullable=False),
        _fk("member_id", "vital_members", "SET NULL", nullable=True),
        _fk("alert_id", "alerts", "SET NULL", nullable=True),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_index("ix_vital_sessions_complex_ts", "vital_sessions", ["complex_id", "ts"])
    op.create_index("ix_vital_sessions_member_id", "vital_sessions", ["member_id"])
    op.create_index("ix_vital_sessions_alert_id", "vital_sessions", ["alert_id"])
    op.create_table(
        "vital_readings",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("session_id", "vital_sessions", "CASCADE", nullable=False),
        _fk("member_id", "vital_members", "CASCADE", nullable=False),
        _fk("complex_id", "complexes", "CASCADE", nullable=False),
        sa.Column("space_code", sa.String(64), nullable=False),
        sa.Column("device_code", sa.String(64), nullable=False),
        sa.Column("type", sa.String(24), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(10), nullable=False),
        sa.Column("loinc", sa.String(10), nullable=False),
        sa.Column("flag", sa.String(16), nullable=False),
        sa.Column("ts", TS, nullable=False),
    )
    op.create_index("ix_vital_readings_session_id", "vital_readings", ["session_id"])
    op.create_index("ix_vital_readings_member_ts", "vital_readings", ["member_id", "ts"])
    op.create_index("ix_vital_readings_ts", "vital_readings", ["ts"])


def _counters() -> None:
    op.create_table(
        "vital_usage_hours",
        *_key(),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("consented", sa.Integer(), nullable=False),
        sa.Column("crisis", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("complex_id", "space_code", "start_ms"),
    )
    op.create_table(
        "vital_reading_hours",
        *_key(),
        sa.Column("reading_type", sa.String(24), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("evaluated", sa.Integer(), nullable=False),
        sa.Column("outside_reference", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("complex_id", "space_code", "start_ms", "reading_type"),
    )
    op.create_table(
        "vital_hour_salts",
        sa.Column("start_ms", MS, nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("start_ms"),
    )
    op.create_table(
        "vital_hour_visitors",
        *_key(),
        sa.Column("token", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("complex_id", "space_code", "start_ms", "token"),
    )


def upgrade() -> None:
    """Create the health-kiosk tables."""
    _people()
    _sessions()
    _counters()


def downgrade() -> None:
    """Drop what :func:`upgrade` created."""
    for table in (
        "vital_hour_visitors",
        "vital_hour_salts",
        "vital_reading_hours",
        "vital_usage_hours",
        "vital_readings",
        "vital_sessions",
        "vital_consents",
        "vital_members",
    ):
        op.drop_table(table)
