"""Database URLs: the default, normalisation and safe display.

Users write `postgresql://...` or `sqlite:///path`; SQLAlchemy needs the driver
spelled out for psycopg 3 (psycopg2 is not a dependency), so URLs are
normalised here, in one place, before any engine is built.
"""

from __future__ import annotations

import os

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from db.errors import StoreError

ENV_VAR = "STAR_DATABASE_URL"
DEFAULT_URL = "sqlite:///star.db"
_FIX = "use sqlite:///PATH (a file) or postgresql://USER@HOST:PORT/DBNAME"


def default_database_url() -> str:
    """`$STAR_DATABASE_URL` if set, else the embedded SQLite file `star.db` in the cwd."""
    return os.environ.get(ENV_VAR) or DEFAULT_URL


def parse_url(url: str) -> URL:
    """Parse and normalise a user-supplied URL; StoreError if it is not one we support."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"cannot parse database URL {url!r}; {_FIX}") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":  # Heroku-style alias that SQLAlchemy rejects
        backend = "postgresql"
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    raise StoreError(f"unsupported database {backend!r} in {display_url(parsed)}; {_FIX}")


def display_url(url: URL | str) -> str:
    """The URL with any password hidden, for messages and logs."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> str | None:
    """The file path of a file-backed SQLite URL; None for in-memory or other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return database
