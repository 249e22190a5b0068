"""Health kiosks: remember purged sessions, keep crisis directions, no consent in alerts.

- ``vital_purged_events``: event ids (and reading times) of sessions the retention purge
  deleted, so an edge's resend is neither stored nor counted again (issue 7 review,
  finding 2).
- ``vital_sessions.crisis_flags``: which reading types of a session were in a crisis
  range and in which direction (``["spo2:low"]``), no value (finding 16).
- ``alerts.detail.identified`` of ``vital_crisis`` alerts is dropped: every role that
  reads alerts saw whether the person at the kiosk had consented (finding 16); the
  clinician API reads it from the session. Not restored by the downgrade.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ALERTS = sa.table(
    "alerts",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("detail", sa.JSON()),
)


def _drop_identified() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_ALERTS.c.id, _ALERTS.c.detail).where(_ALERTS.c.kind == "vital_crisis")
    ).all()
    for alert_id, detail in rows:
        if isinstance(detail, dict) and "identified" in detail:
            kept = {k: v for k, v in detail.items() if k != "identified"}
            conn.execute(sa.update(_ALERTS).where(_ALERTS.c.id == alert_id).values(detail=kept))


def upgrade() -> None:
    """Add the purged-event table and the crisis flags; drop ``identified`` from alerts."""
    op.create_table(
        "vital_purged_events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_vital_purged_events_ts", "vital_purged_events", ["ts"])
    with op.batch_alter_table("vital_sessions") as batch:
        batch.add_column(sa.Column("crisis_flags", sa.JSON(), nullable=False, server_default="[]"))
    _drop_identified()


def downgrade() -> None:
    """Drop what :func:`upgrade` added (alert details stay without ``identified``)."""
    with op.batch_alter_table("vital_sessions") as batch:
        batch.drop_column("crisis_flags")
    op.drop_index("ix_vital_purged_events_ts", table_name="vital_purged_events")
    op.drop_table("vital_purged_events")
