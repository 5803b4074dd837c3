"""attempts.kind may be 'eval_sample': sampled held-out answers (maj@k, pass@k)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 00:20:00

Each round samples `evaluation.samples` answers per held-out problem besides
its greedy one; they are stored as attempts of kind `eval_sample`. Only the
CHECK constraint on attempts.kind changes. SQLite cannot alter a constraint,
so Alembic copies the table; its views name `attempts`, so they are dropped
first and created again afterwards (same SQL as revision 0001).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('direct', 'rationalized', 'eval')"
NEW_KINDS = "kind IN ('direct', 'rationalized', 'eval', 'eval_sample')"
VIEWS = ("accepted_triplets", "round_summary")


def upgrade() -> None:
    _set_kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM attempts WHERE kind = 'eval_sample'")
    _set_kinds(OLD_KINDS)


def _set_kinds(condition: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f('ck_attempts_kind'), 'attempts', type_='check')
        op.create_check_constraint(op.f('ck_attempts_kind'), 'attempts', condition)
        return
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    with op.batch_alter_table('attempts', recreate='always') as batch:
        batch.drop_constraint(op.f('ck_attempts_kind'), type_='check')
        batch.create_check_constraint(op.f('ck_attempts_kind'), condition)
    initial = importlib.import_module("migrations.versions.0001_initial_schema")
    op.execute(initial.ACCEPTED_TRIPLETS)
    op.execute(initial.ROUND_SUMMARY)
