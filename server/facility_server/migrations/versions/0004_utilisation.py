"""Utilisation aggregates (hours, days), satisfaction votes and rectification items.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
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


def _figures() -> list[sa.Column[object]]:
    return [
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("exits", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Integer(), nullable=False),
        sa.Column("clamped", sa.Integer(), nullable=False),
        sa.Column("open_min", sa.Float(), nullable=False),
        sa.Column("occupied_min", sa.Float(), nullable=False),
        sa.Column("person_min", sa.Float(), nullable=False),
    ]


def upgrade() -> None:
    """Create the utilisation, satisfaction and rectification tables."""
    op.create_table(
        "utilisation_hours",
        _fk("space_id", "spaces", "CASCADE", nullable=False),
        sa.Column("start_ms", MS, nullable=False),
        _fk("complex_id", "complexes", "CASCADE", nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *_figures(),
        sa.PrimaryKeyConstraint("space_id", "start_ms"),
    )
    op.create_index("ix_utilisation_hours_complex_day", "utilisation_hours", ["complex_id", "day"])
    op.create_table(
        "utilisation_days",
        _fk("space_id", "spaces", "CASCADE", nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        _fk("complex_id", "complexes", "CASCADE", nullable=False),
        *_figures(),
        sa.Column("drift", sa.Integer(), nullable=False),
        sa.Column("actual_open_min", sa.Float(), nullable=False),
        sa.Column("evidence", sa.String(8), nullable=False),
        sa.Column("first_ms", MS, nullable=True),
        sa.Column("last_ms", MS, nullable=True),
        sa.Column("updated_ms", MS, nullable=False),
        sa.PrimaryKeyConstraint("space_id", "day"),
    )
    op.create_index("ix_utilisation_days_complex_day", "utilisation_days", ["complex_id", "day"])
    _satisfaction()


def _satisfaction() -> None:
    op.create_table(
        "satisfaction_votes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        _fk("complex_id", "complexes", "CASCADE", nullable=False),
        _fk("space_id", "spaces", "SET NULL", nullable=True),
        sa.Column("space_code", sa.String(64), nullable=False),
        sa.Column("device_code", sa.String(64), nullable=False),
        sa.Column("rating", sa.String(20), nullable=False),
        sa.Column("clock", sa.String(16), nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.Column("ts_ms", MS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_index("ix_satisfaction_votes_complex_id", "satisfaction_votes", ["complex_id"])
    op.create_index("ix_satisfaction_votes_space_ts", "satisfaction_votes", ["space_id", "ts_ms"])
    op.create_table(
        "rectifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("complex_id", "complexes", "CASCADE", nullable=False),
        _fk("space_id", "spaces", "CASCADE", nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("rate_pct", sa.Float(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("fixed_at", TS, nullable=True),
        sa.Column("fixed_by", sa.String(64), nullable=True),
        sa.Column("fix_note", sa.String(500), nullable=False),
        sa.Column("verified_at", TS, nullable=True),
        sa.Column("verified_by", sa.String(64), nullable=True),
        sa.Column("verify_note", sa.String(500), nullable=False),
        sa.UniqueConstraint("space_id", "period"),
    )
    op.create_index("ix_rectifications_complex_id", "rectifications", ["complex_id"])
    op.create_index("ix_rectifications_state", "rectifications", ["state"])


def downgrade() -> None:
    """Drop what :func:`upgrade` created."""
    for table in ("rectifications", "satisfaction_votes", "utilisation_days", "utilisation_hours"):
        op.drop_table(table)
