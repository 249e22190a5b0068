"""Safety-task compliance: task rules, check-ins, occurrences, contacts, notification
outbox, series marks; escalation and notification columns on alerts.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
MS = sa.BigInteger()


def _fk(name: str, table: str, ondelete: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        name, sa.Integer(), sa.ForeignKey(f"{table}.id", ondelete=ondelete), nullable=nullable
    )


def upgrade() -> None:
    """Create the compliance tables and add the escalation columns to alerts."""
    _rules_and_checkins()
    _occurrences()
    _contacts_and_outbox()
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("note", sa.String(300), nullable=True))
        batch.add_column(
            sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("escalated_at", TS, nullable=True))
        batch.add_column(sa.Column("escalate_after_s", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("notified_level", sa.Integer(), nullable=False, server_default="-1")
        )
        batch.add_column(
            sa.Column("notified_resolved", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_alerts_notified_resolved", ["notified_resolved"])
    # alerts that existed before escalation: count them as notified (nobody to tell now)
    op.execute("UPDATE alerts SET notified_resolved = (state = 'resolved')")


def _rules_and_checkins() -> None:
    op.create_table(
        "task_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("complex_id", "complexes", "CASCADE"),
        _fk("space_id", "spaces", "CASCADE"),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("complex_id", "code"),
    )
    op.create_index("ix_task_rules_complex_id", "task_rules", ["complex_id"])
    op.create_index("ix_task_rules_space_id", "task_rules", ["space_id"])
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        _fk("complex_id", "complexes", "CASCADE"),
        _fk("space_id", "spaces", "SET NULL", nullable=True),
        sa.Column("space_code", sa.String(64), nullable=False),
        sa.Column("checkpoint_code", sa.String(64), nullable=False),
        sa.Column("device_code", sa.String(64), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("proof", sa.String(16), nullable=False),
        sa.Column("badge", sa.String(32), nullable=False),
        _fk("staff_id", "staff", "SET NULL", nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("reject_reason", sa.String(64), nullable=False),
        sa.Column("clock", sa.String(16), nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.Column("ts_ms", MS, nullable=False),
        sa.Column("received_ms", MS, nullable=False),
    )
    op.create_index("ix_checkins_complex_id", "checkins", ["complex_id"])
    op.create_index("ix_checkins_space_task_ts", "checkins", ["space_id", "task", "ts_ms"])
    op.create_index("ix_checkins_task_ts", "checkins", ["task", "ts_ms"])


def _occurrences() -> None:
    op.create_table(
        "task_occurrences",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("rule_id", "task_rules", "CASCADE"),
        _fk("complex_id", "complexes", "CASCADE"),
        _fk("space_id", "spaces", "CASCADE"),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start_ms", MS, nullable=False),
        sa.Column("deadline_ms", MS, nullable=False),
        sa.Column("alert_ms", MS, nullable=False),
        sa.Column("until_ms", MS, nullable=False),
        sa.Column("done_ms", MS, nullable=True),
        sa.Column("reported_ms", MS, nullable=True),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("needed_count", sa.Integer(), nullable=False),
        sa.Column("satisfied_by", sa.JSON(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(16), nullable=False),
        sa.Column("updated_ms", MS, nullable=False),
        sa.UniqueConstraint("rule_id", "key"),
    )
    op.create_index("ix_task_occurrences_complex_day", "task_occurrences", ["complex_id", "day"])
    op.create_index("ix_task_occurrences_day", "task_occurrences", ["day"])
    op.create_index("ix_task_occurrences_rule_day", "task_occurrences", ["rule_id", "day"])
    op.create_index("ix_task_occurrences_state", "task_occurrences", ["state"])
    op.create_table(
        "compliance_series_marks",
        sa.Column(
            "complex_id",
            sa.Integer(),
            sa.ForeignKey("complexes.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("written_at", TS, nullable=False),
    )


def _contacts_and_outbox() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        _fk("complex_id", "complexes", "CASCADE", nullable=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("staff_code", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("scope_kind", "scope_id", "code"),
    )
    op.create_index("ix_contacts_complex_id", "contacts", ["complex_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        _fk("alert_id", "alerts", "CASCADE"),
        _fk("contact_id", "contacts", "SET NULL", nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("last_error", sa.String(300), nullable=False),
    )
    op.create_index("ix_notifications_alert_id", "notifications", ["alert_id"])
    op.create_index("ix_notifications_due", "notifications", ["state", "next_attempt_at"])


def downgrade() -> None:
    """Drop the compliance tables and the alert columns."""
    for table in (
        "notifications",
        "contacts",
        "compliance_series_marks",
        "task_occurrences",
        "checkins",
        "task_rules",
    ):
        op.drop_table(table)
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_notified_resolved")
        for column in (
            "notified_resolved",
            "notified_level",
            "escalate_after_s",
            "escalated_at",
            "escalation_level",
            "note",
        ):
            batch.drop_column(column)
