"""attempts.refusal and attempts.path_key: why a right rationale was not trained on, and its reasoning path

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:40:00

- `refusal`: why a correct attempt was not accepted: `wrong_steps` (with
  `accept: answer_and_steps`), `no_work` or `answer_first` (the work rule of
  `require_work`, star/checker/work.py). NULL for accepted and wrong attempts.
- `path_key`: a 16-hex-digit key of a correct attempt's reasoning path (its
  checkable steps, or its scratchpad lines), which `training.dedup: path` and
  the exploration metrics count distinct paths by.

Both stay NULL for attempts stored before this revision: computing them needs
the run's task, which the store does not have. Plain ADD COLUMN on both
backends: no table rebuild, so the triggers of revision 0007 stay in place.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE attempts ADD COLUMN refusal VARCHAR(32)")
    op.execute("ALTER TABLE attempts ADD COLUMN path_key VARCHAR(16)")


def downgrade() -> None:
    op.execute("ALTER TABLE attempts DROP COLUMN path_key")
    op.execute("ALTER TABLE attempts DROP COLUMN refusal")
