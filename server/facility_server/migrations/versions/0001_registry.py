"""Registry: regions, complexes, spaces, calendar, devices, staff, badges, checkpoints,
accounts and the append-only audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _complex_fk() -> sa.Column[int]:
    return sa.Column(
        "complex_id",
        sa.Integer(),
        sa.ForeignKey("complexes.id", ondelete="CASCADE", name=None),
        nullable=False,
        index=True,
    )


def upgrade() -> None:
    """Create the registry tables and the audit log's append-only triggers."""
    op.create_table(
        "accounts",
        _id(),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", TS, nullable=False, index=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    _append_only("audit_log")
    op.create_table(
        "regions",
        _id(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "parent_id", sa.Integer(), sa.ForeignKey("regions.id"), nullable=True, index=True
        ),
        sa.Column("path", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "complexes",
        _id(),
        sa.Column("site_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        *[
            sa.Column(
                f"{k}_id", sa.Integer(), sa.ForeignKey("regions.id"), nullable=False, index=True
            )
            for k in ("community", "street", "district")
        ],
        sa.Column("public_holidays", sa.String(16), nullable=False),
        sa.Column("makeup_workdays", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "spaces",
        _id(),
        _complex_fk(),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False, index=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("weekly_hours", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("complex_id", "code"),
    )
    op.create_table(
        "calendar_exceptions",
        _id(),
        _complex_fk(),
        sa.Column(
            "space_id", sa.Integer(), sa.ForeignKey("spaces.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("space_key", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.UniqueConstraint("complex_id", "space_key", "day"),
    )
    _devices_and_people()


def _devices_and_people() -> None:
    op.create_table(
        "devices",
        _id(),
        _complex_fk(),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column(
            "space_id", sa.Integer(), sa.ForeignKey("spaces.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column(
            "via_id", sa.Integer(), sa.ForeignKey("devices.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("firmware", sa.String(64), nullable=False),
        sa.Column("mqtt_username", sa.String(128), nullable=True, unique=True),
        sa.Column("mqtt_secret_hash", sa.String(200), nullable=True),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("last_seen", TS, nullable=True),
        sa.Column("heartbeat_s", sa.Float(), nullable=True),
        sa.Column("health", sa.String(16), nullable=False, index=True),
        sa.Column("health_since", TS, nullable=True),
        sa.Column("boot", sa.String(64), nullable=True),
        sa.Column("software", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("complex_id", "code"),
    )
    op.create_table(
        "staff",
        _id(),
        _complex_fk(),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("duty", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("complex_id", "code"),
    )
    op.create_table(
        "badges",
        _id(),
        sa.Column(
            "complex_id",
            sa.Integer(),
            sa.ForeignKey("complexes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.UniqueConstraint("complex_id", "uid"),
    )
    op.create_table(
        "checkpoints",
        _id(),
        _complex_fk(),
        sa.Column(
            "space_id", sa.Integer(), sa.ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tag_kind", sa.String(8), nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.UniqueConstraint("complex_id", "code"),
        sa.UniqueConstraint("complex_id", "tag_kind", "tag"),
    )


def _append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on ``table`` in the database itself (SQLite, PostgreSQL)."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        return
    op.execute(
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
    )


def downgrade() -> None:
    """Drop everything this revision created."""
    for table in (
        "checkpoints",
        "badges",
        "staff",
        "devices",
        "calendar_exceptions",
        "spaces",
        "complexes",
        "regions",
        "audit_log",
        "accounts",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
