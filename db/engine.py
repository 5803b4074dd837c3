"""Engines and sessions: the one place that decides how star talks to a database.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign
keys on, so several writer processes on one host queue up instead of failing.
PostgreSQL (clusters) gets a bounded pool from config, so many workers cannot
open an unbounded number of connections.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from db import migrate
from db.errors import StoreError
from db.urls import display_url, parse_url, sqlite_path

SQLITE_BUSY_TIMEOUT_MS = 60_000
# Rows per multi-row INSERT for the ORM-level upserts (attempts use db/bulk.py);
# SQLAlchemy lowers it further to stay under the bound-parameter limit.
INSERT_PAGE_SIZE = 2_000
PG_CONNECT_TIMEOUT_S = 10


def make_engine(url: str | URL, *, pool_size: int = 5, max_overflow: int = 5) -> Engine:
    """An engine with star's connection settings; no schema check (see open_store)."""
    parsed = parse_url(url) if isinstance(url, str) else url
    common: dict[str, Any] = {
        "insertmanyvalues_page_size": INSERT_PAGE_SIZE,
        # An error in a 2,000-row INSERT would otherwise print every completion.
        "hide_parameters": True,
    }
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
            **common,
        )
    if sqlite_path(parsed) is None:
        # One shared connection, or every connection would see its own empty database.
        engine = create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}, **common
        )
    else:
        engine = create_engine(parsed, pool_size=pool_size, max_overflow=max_overflow, **common)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # writers wait, not fail
    cur.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite
    # In WAL mode NORMAL still never corrupts and never loses a commit when a
    # process crashes; only an OS crash or power cut can drop the last commits,
    # and a resumed round re-generates whatever attempt_keys() lacks. It saves
    # an fsync per batch.
    cur.execute("PRAGMA synchronous=NORMAL")
    # 32 MiB page cache (default 2 MiB) keeps the attempts indexes' hot pages in
    # memory as the table grows into millions of rows; allocated only as used.
    cur.execute("PRAGMA cache_size=-32768")
    cur.close()


def open_store(
    url: str, *, pool_size: int = 5, max_overflow: int = 5, create: bool = True
) -> Engine:
    """Open the store at `url`, ready to use at the newest schema.

    A new (or empty) SQLite database is created and migrated automatically;
    `create=False` refuses a missing SQLite file instead (for read-only
    commands, so a typo in --db does not leave an empty file behind). Any other
    database that is behind head raises StoreError naming `star db upgrade`.
    """
    parsed = parse_url(url)
    shown = display_url(url)
    path = sqlite_path(parsed)
    if path is not None:
        _check_sqlite_path(path, shown, create)
    engine = make_engine(parsed, pool_size=pool_size, max_overflow=max_overflow)
    return checked_engine(engine, shown, lambda conn: _ensure_schema(conn, shown,
                                                                     auto=parsed.get_backend_name() == "sqlite"))


def checked_engine(engine: Engine, shown: str, check: Callable[[Connection], None]) -> Engine:
    """`engine` once `check` passed on one of its connections; disposed, with a StoreError naming the
    fix, when the database cannot be reached or the check fails."""
    try:
        with engine.connect() as conn:
            check(conn)
    except DBAPIError as exc:
        engine.dispose()
        raise StoreError(connect_error(shown, exc)) from None
    except StoreError:
        engine.dispose()
        raise
    return engine


def reachable_engine(url: str) -> Engine:
    """A one-connection engine on `url`, tested, with no schema check (for `star db`)."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        engine.connect().close()
    except DBAPIError as exc:
        engine.dispose()
        raise StoreError(connect_error(display_url(url), exc)) from None
    return engine


def _check_sqlite_path(path: str, shown: str, create: bool) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise StoreError(f"directory {parent} for {shown} does not exist; create it or pass another --db")
    if not create and not os.path.exists(path):
        raise StoreError(
            f"no database at {shown}; check --db (or $STAR_DATABASE_URL), or `star run` to create one"
        )


def connect_error(shown: str, exc: DBAPIError) -> str:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    return (
        f"cannot use database {shown}: {reason}; "
        "check --db (or $STAR_DATABASE_URL) and that the server is up"
    )


def require_head(conn: Connection, shown: str) -> None:
    """StoreError naming the fix unless the database is at the newest schema (never migrates)."""
    _ensure_schema(conn, shown, auto=False)


def _ensure_schema(conn: Connection, shown: str, *, auto: bool) -> None:
    head = migrate.head_revision()
    current = migrate.current_revision(conn)
    if current == head:
        return
    if auto and current is None and _is_empty(conn):
        _auto_upgrade_sqlite(conn, head)
        return
    fix = f"run `star db upgrade --db {shown}`"
    if current is None:
        raise StoreError(f"database {shown} has no star schema; {fix}")
    if current not in migrate.known_revisions():
        raise StoreError(
            f"database {shown} is at revision {current}, newer than this star ({head}); upgrade star"
        )
    raise StoreError(f"database {shown} is at revision {current}, behind {head}; {fix}")


def _is_empty(conn: Connection) -> bool:
    # alembic_version alone is what a downgrade to base leaves behind.
    return not set(inspect(conn).get_table_names()) - {"alembic_version"}


def _auto_upgrade_sqlite(conn: Connection, head: str) -> None:
    # BEGIN IMMEDIATE takes SQLite's write lock, so when several processes open
    # a fresh file at once exactly one migrates it and the others wait, then see
    # head. SQLite DDL is transactional, so a crash leaves the file empty.
    conn.rollback()
    conn.exec_driver_sql("BEGIN IMMEDIATE")
    if migrate.current_revision(conn) != head:
        migrate.upgrade_on(conn, "head")
    conn.commit()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay usable after commit (the loop keeps Run/Round around)."""
    return sessionmaker(engine, expire_on_commit=False)
