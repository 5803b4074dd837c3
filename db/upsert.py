"""INSERT ... ON CONFLICT, spelled the same way for SQLite and PostgreSQL: how every write stays idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.errors import StoreError


def dialect_insert(session: Session, table: Table) -> Any:
    """INSERT for the session's dialect, which both spell ON CONFLICT the same way."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"unsupported database dialect {dialect!r}; use SQLite or PostgreSQL")


def insert_ignoring_duplicates(
    session: Session, table: Table, rows: list[dict[str, Any]], key: Sequence[str],
    *, key_where: ColumnElement[bool] | None = None,
) -> int:
    """Insert rows, skipping any whose unique `key` exists; returns how many were new.

    `key_where` names a partial unique index (its WHERE clause), as both
    backends need it to pick that index as the conflict target.
    """
    if not rows:
        return 0
    stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=list(key), index_where=key_where)
    # RETURNING yields only the rows actually inserted, which makes the count
    # exact even with other writers racing on the same keys. SQLAlchemy batches
    # the executemany into multi-row INSERTs (INSERT_PAGE_SIZE rows each).
    result = session.execute(stmt.returning(table.c.id), rows)
    return len(result.all())
