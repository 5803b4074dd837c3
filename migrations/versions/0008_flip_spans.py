"""flip_spans and flip_snapshots: a run's flips kept per problem, read in one pass

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 03:40:00

`star flips RUN` aggregated every `problem_rounds` row of the run per call:
about 300 ms at a million attempts and 1.7 s at a hundred rounds, over the
100 ms the store benchmark asks of it. A run's flips change only when a round
finishes, so the loop now stores the aggregate then (one row per problem and
split), and flips of a whole run read those rows. `flip_snapshots` names the
rounds a snapshot covers; a run whose rounds differ (one in progress, or a
store from before this revision) is read the old way, so nothing needs a
backfill and downgrading loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'flip_spans',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('split', sa.String(length=8), nullable=False),
        sa.Column('problem_id', sa.Integer(), nullable=False),
        sa.Column('first_round', sa.Integer(), nullable=False),
        sa.Column('last_round', sa.Integer(), nullable=False),
        sa.Column('start_state', sa.Integer(), nullable=False),
        sa.Column('end_state', sa.Integer(), nullable=False),
        sa.Column('since', sa.Integer(), nullable=True),
        sa.Column('hint_round', sa.Integer(), nullable=True),
        sa.Column('unaided_round', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], name=op.f('fk_flip_spans_problem_id_problems')),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_flip_spans_run_id_runs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'split', 'problem_id', name=op.f('pk_flip_spans')),
    )
    op.create_table(
        'flip_snapshots',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('split', sa.String(length=8), nullable=False),
        sa.Column('round_ids', sa.Text(), nullable=False),
        sa.Column('taken_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_flip_snapshots_run_id_runs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'split', name=op.f('pk_flip_snapshots')),
    )


def downgrade() -> None:
    op.drop_table('flip_snapshots')
    op.drop_table('flip_spans')
