"""Occurrences: one foreign key (rule_id, complex_id, space_id) -> task_rules instead of
three separate ones (issue 5 benchmark: PostgreSQL checks keys row by row, and the first
tick of a day inserts 66,000 occurrences).

An occurrence's complex and space are those of its rule; the new key says so, so deleting
a complex, space or rule still deletes its occurrences (through the rule), and moving a
rule to another space moves its occurrences (ON UPDATE CASCADE; before, they kept the old
space). Occurrences of rules moved earlier are brought in line first.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RULE_KEY = "ix_task_rules_id_complex_space"
#: Constraint names follow models/base.py NAMING (fk_<table>_<first column>_<referred>).
FK_RULE = "fk_task_occurrences_rule_id_task_rules"
FK_COMPLEX = "fk_task_occurrences_complex_id_complexes"
FK_SPACE = "fk_task_occurrences_space_id_spaces"
_ALIGN = """
UPDATE task_occurrences
SET complex_id = (SELECT r.complex_id FROM task_rules r WHERE r.id = task_occurrences.rule_id),
    space_id = (SELECT r.space_id FROM task_rules r WHERE r.id = task_occurrences.rule_id)
WHERE EXISTS (
    SELECT 1 FROM task_rules r
    WHERE r.id = task_occurrences.rule_id
      AND (r.complex_id <> task_occurrences.complex_id OR r.space_id <> task_occurrences.space_id)
)
"""


def upgrade() -> None:
    """Align occurrences with their rules, then replace the three keys by one."""
    op.execute(_ALIGN)
    op.create_index(RULE_KEY, "task_rules", ["id", "complex_id", "space_id"], unique=True)
    with op.batch_alter_table("task_occurrences") as batch:  # SQLite: the table is rebuilt
        for name in (FK_RULE, FK_COMPLEX, FK_SPACE):
            batch.drop_constraint(name, type_="foreignkey")
        batch.create_foreign_key(
            FK_RULE,
            "task_rules",
            ["rule_id", "complex_id", "space_id"],
            ["id", "complex_id", "space_id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        )


def downgrade() -> None:
    """The three separate keys again (occurrences keep their aligned complex and space)."""
    with op.batch_alter_table("task_occurrences") as batch:
        batch.drop_constraint(FK_RULE, type_="foreignkey")
        for name, column, table in (
            (FK_RULE, "rule_id", "task_rules"),
            (FK_COMPLEX, "complex_id", "complexes"),
            (FK_SPACE, "space_id", "spaces"),
        ):
            batch.create_foreign_key(name, table, [column], ["id"], ondelete="CASCADE")
    op.drop_index(RULE_KEY, table_name="task_rules")
