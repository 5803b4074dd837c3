"""schedules and firings; dataset snapshot per round

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 20:31:29.746081

`star schedule` keeps its schedules and one row per (schedule, slot) firing
in the store, so exactly-once firing is a unique key, not process memory.
Rounds record which training data (content hash, row count) they saw, since a
nightly run's pool grows between firings.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table('schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('run_name', sa.String(length=200), nullable=False),
    sa.Column('config', JSON_DOC, nullable=False),
    sa.Column('cron', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('rounds_per_firing', sa.Integer(), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('max_retries', sa.Integer(), nullable=False),
    sa.Column('retry_backoff_s', sa.Integer(), nullable=False),
    sa.Column('grace_s', sa.Integer(), nullable=False),
    sa.Column('notify', sa.Text(), nullable=True),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedules')),
    sa.UniqueConstraint('name', name=op.f('uq_schedules_name')),
    sa.UniqueConstraint('run_name', name=op.f('uq_schedules_run_name'))
    )
    op.create_table('firings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.DateTime(timezone=True), nullable=False),
    sa.Column('manual', sa.Boolean(), nullable=False),
    sa.Column('run_name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('target_round', sa.Integer(), nullable=True),
    sa.Column('rounds', JSON_DOC, nullable=False),
    sa.Column('job_id', sa.String(length=200), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    sa.CheckConstraint("status IN ('running', 'succeeded', 'failed', 'skipped', 'missed')", name=op.f('ck_firings_status')),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], name=op.f('fk_firings_schedule_id_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firings')),
    sa.UniqueConstraint('schedule_id', 'slot', name=op.f('uq_firings_schedule_id_slot'))
    )
    with op.batch_alter_table('firings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_firings_status'), ['status'], unique=False)

    # Plain ALTERs, not a batch copy: SQLite cannot rebuild `rounds` while the
    # views from 0001 refer to it, and adding or dropping a nullable column
    # needs no rebuild on SQLite >= 3.35.
    op.add_column('rounds', sa.Column('dataset_hash', sa.String(length=64), nullable=True))
    op.add_column('rounds', sa.Column('dataset_rows', sa.Integer(), nullable=True))



def downgrade() -> None:
    op.drop_column('rounds', 'dataset_rows')
    op.drop_column('rounds', 'dataset_hash')

    with op.batch_alter_table('firings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_firings_status'))

    op.drop_table('firings')
    op.drop_table('schedules')
