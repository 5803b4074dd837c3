"""Read-only engines, for `star serve`: whatever a request does, the database cannot change.

- SQLite: the file is opened with `mode=ro` (the OS-level open is read-only)
  and `PRAGMA query_only`, so even a bug in a query cannot write.
- PostgreSQL: every transaction starts `default_transaction_read_only`, set as
  a connection option (kept alongside any `options` already in the URL).

The schema must be at head; nothing is migrated.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

from db.engine import PG_CONNECT_TIMEOUT_S, SQLITE_BUSY_TIMEOUT_MS, checked_engine, require_head
from db.errors import StoreError
from db.urls import display_url, parse_url, sqlite_path

_PG_READ_ONLY = "-c default_transaction_read_only=on"


def open_readonly(url: str, *, pool_size: int = 5, max_overflow: int = 5) -> Engine:
    """A read-only engine on an existing store at head; StoreError naming the fix otherwise."""
    parsed = parse_url(url)
    shown = display_url(url)
    engine = _readonly_engine(parsed, shown, pool_size=pool_size, max_overflow=max_overflow)
    return checked_engine(engine, shown, lambda conn: require_head(conn, shown))


def _readonly_engine(parsed: URL, shown: str, *, pool_size: int, max_overflow: int) -> Engine:
    common: dict[str, Any] = {"hide_parameters": True, "pool_size": pool_size, "max_overflow": max_overflow}
    if parsed.get_backend_name() == "postgresql":
        options = " ".join(filter(None, [parsed.query.get("options"), _PG_READ_ONLY]))
        return create_engine(parsed.update_query_dict({"options": options}), pool_pre_ping=True,
                             connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S}, **common)
    path = sqlite_path(parsed)
    if path is None:
        raise StoreError(f"{shown} is an in-memory database; serve a SQLite file or a PostgreSQL database")
    if not os.path.isfile(path):
        raise StoreError(f"no database at {shown}; check --db (or $STAR_DATABASE_URL)")
    uri = URL.create("sqlite", database=f"file:{os.path.abspath(path)}", query={"mode": "ro", "uri": "true"})
    engine = create_engine(uri, connect_args={"check_same_thread": False}, **common)
    event.listen(engine, "connect", _sqlite_read_pragmas)
    return engine


def _sqlite_read_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # a writer's checkpoint may hold a lock briefly
    cur.execute("PRAGMA query_only=ON")
    cur.execute("PRAGMA cache_size=-32768")
    cur.close()
