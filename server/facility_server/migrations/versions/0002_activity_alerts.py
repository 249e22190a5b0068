"""Activity from the field (door crossings, device notices) and the alert model.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _complex_fk(nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        "complex_id",
        sa.Integer(),
        sa.ForeignKey("complexes.id", ondelete="CASCADE"),
        nullable=nullable,
    )


def upgrade() -> None:
    """Create door_crossings, device_notices and alerts (dedupe key unique)."""
    op.create_table(
        "door_crossings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        _complex_fk(),
        sa.Column(
            "space_id",
            sa.Integer(),
            sa.ForeignKey("spaces.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("space_code", sa.String(64), nullable=False),
        sa.Column("device_code", sa.String(64), nullable=False),
        sa.Column("ts", TS, nullable=False, index=True),
        sa.Column("people_in", sa.Integer(), nullable=False),
        sa.Column("people_out", sa.Integer(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_table(
        "device_notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        _complex_fk(),
        sa.Column("device_code", sa.String(64), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("ts", TS, nullable=False),
    )
    op.create_index("ix_device_notices_complex_id", "device_notices", ["complex_id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("occurrence", sa.String(64), nullable=False),
        sa.Column("dedupe_key", sa.String(300), nullable=False, unique=True),
        _complex_fk(nullable=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolution", sa.String(64), nullable=True),
    )
    op.create_index("ix_alerts_complex_id", "alerts", ["complex_id"])


def downgrade() -> None:
    """Drop the activity and alert tables."""
    for table in ("alerts", "device_notices", "door_crossings"):
        op.drop_table(table)
