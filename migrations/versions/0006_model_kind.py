"""models.kind: a round's policy checkpoint or a verifier trained on the run's attempts

Revision ID: 0006
Revises: 0004 (re-chain onto 0005 when both land)
Create Date: 2026-11-30 00:20:00

`star verifier train` records verifiers as `models` rows of kind "verifier"
that point at the run and at the last round whose attempts trained them.
Existing rows become "policy". A round still has at most one policy
checkpoint, but may have any number of verifiers, so the unique key on
round_id becomes a partial unique index over policy rows (SQLite and
PostgreSQL both have them).

Downgrading deletes the verifier rows: the old schema cannot hold them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY_ONLY = sa.text("kind = 'policy'")


def upgrade() -> None:
    # A batch copy of `models` is safe on SQLite: no view refers to it.
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='policy', nullable=False))
        batch_op.drop_constraint(batch_op.f('uq_models_round_id'), type_='unique')
        batch_op.create_check_constraint(batch_op.f('ck_models_kind'), "kind IN ('policy', 'verifier')")
    op.create_index('uq_models_policy_round_id', 'models', ['round_id'], unique=True,
                    sqlite_where=POLICY_ONLY, postgresql_where=POLICY_ONLY)


def downgrade() -> None:
    op.drop_index('uq_models_policy_round_id', table_name='models')
    op.execute("DELETE FROM models WHERE kind = 'verifier'")
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_models_kind'), type_='check')
        batch_op.create_unique_constraint(batch_op.f('uq_models_round_id'), ['round_id'])
        batch_op.drop_column('kind')
