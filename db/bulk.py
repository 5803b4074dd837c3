"""The fast path for storing attempts: thousands of rows per statement, per backend.

Attempts are the one table that grows to millions of rows, written in batches
of thousands by many workers. Going through SQLAlchemy's generic multi-row
INSERT costs more client CPU than the database spends storing the rows (with
psycopg, rewriting a 34,000-parameter statement dominates), so this module
talks to the driver directly, inside the session's own transaction:

- SQLite: one prepared `INSERT .. ON CONFLICT DO NOTHING` run over the whole
  batch (`executemany`); the driver's rowcount is the number of rows inserted.
- PostgreSQL: `COPY` the batch into a session-private temporary table, then one
  `INSERT .. SELECT .. ORDER BY key ON CONFLICT DO NOTHING`.

Both insert in unique-key order, so concurrent writers lock rows in the same
order and cannot deadlock. The caller still owns the transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db.errors import StoreError
from db.models import Attempt

ATTEMPT_COLUMNS = (
    "run_id", "round_id", "problem_id", "kind", "sample_index", "prompt", "train_prompt",
    "completion", "extracted", "status", "correct", "accepted", "steps_ok", "refusal", "path_key",
    "prompt_tokens", "completion_tokens", "model", "created_at",
)
#: the columns revision 0009 added; a batch where every row leaves them NULL is written without them,
#: so the same code still writes a store at an older revision (benchmarks, migration tests)
OPTIONAL_COLUMNS = ("refusal", "path_key")
ATTEMPT_KEY = ("round_id", "problem_id", "kind", "sample_index")
_KEY = ", ".join(ATTEMPT_KEY)


@dataclass(frozen=True)
class _Statements:
    sqlite_insert: str
    pg_staging: str
    pg_copy: str
    pg_insert: str
    pg_clear: str


@functools.cache
def _statements(columns: tuple[str, ...]) -> _Statements:
    cols = ", ".join(columns)
    # One staging table per column set: a connection may write both sets.
    staging = "star_attempts_in" if columns == ATTEMPT_COLUMNS else "star_attempts_in_" + str(len(columns))
    return _Statements(
        sqlite_insert=(f"INSERT INTO attempts ({cols}) VALUES ({', '.join('?' * len(columns))}) "
                       f"ON CONFLICT ({_KEY}) DO NOTHING"),
        # Temporary tables are per connection and vanish with it; ON COMMIT DELETE ROWS
        # empties it at every commit, and IF NOT EXISTS recreates it after a rollback
        # undid its creation.
        pg_staging=(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
                    f"SELECT {cols} FROM attempts WITH NO DATA"),
        pg_copy=f"COPY {staging} ({cols}) FROM STDIN",
        pg_insert=(f"INSERT INTO attempts ({cols}) SELECT {cols} FROM {staging} ORDER BY {_KEY} "
                   f"ON CONFLICT ({_KEY}) DO NOTHING"),
        pg_clear=f"DELETE FROM {staging}",
    )


def insert_attempt_tuples(session: Session, rows: Sequence[tuple[Any, ...]],
                          columns: tuple[str, ...] = ATTEMPT_COLUMNS) -> int:
    """Insert tuples ordered like `columns` (ATTEMPT_COLUMNS, or it without OPTIONAL_COLUMNS), skipping
    stored keys; returns rows inserted.

    `created_at` must be a timezone-aware UTC datetime; it is converted the
    way SQLAlchemy would convert it, so ORM reads see the usual values.
    """
    connection = session.connection()
    dialect = connection.dialect
    to_db = Attempt.__table__.c.created_at.type.bind_processor(dialect)
    if to_db is not None and rows:
        created = to_db(rows[0][-1])  # one timestamp per batch
        rows = [(*row[:-1], created) for row in rows]
    driver = connection.connection.driver_connection
    try:
        if dialect.name == "sqlite":
            return _executemany_insert(driver, rows, _statements(columns))
        if dialect.name == "postgresql":
            return _copy_insert(driver, rows, _statements(columns))
    except dialect.loaded_dbapi.Error as exc:
        # Raise what SQLAlchemy would have raised (IntegrityError, OperationalError...).
        raise DBAPIError.instance("INSERT INTO attempts", None, exc, dialect.loaded_dbapi.Error) from exc
    raise StoreError(f"unsupported database dialect {dialect.name!r}; use SQLite or PostgreSQL")


def _executemany_insert(driver: Any, rows: Sequence[tuple[Any, ...]], sql: _Statements) -> int:
    cursor = driver.cursor()
    try:
        cursor.executemany(sql.sqlite_insert, rows)
        return cursor.rowcount
    finally:
        cursor.close()


def _copy_insert(driver: Any, rows: Sequence[tuple[Any, ...]], sql: _Statements) -> int:
    with driver.cursor() as cursor:
        cursor.execute(sql.pg_staging)
        with cursor.copy(sql.pg_copy) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(sql.pg_insert)
        inserted = cursor.rowcount
        # A second call in the same transaction must not see this batch again.
        cursor.execute(sql.pg_clear)
        return inserted
