"""Alembic environment for the rationale store.

`star db upgrade` (db/migrate.py) hands us an open connection in
`config.attributes["connection"]`; `alembic` run by hand from the repo root
gets a URL from alembic.ini's `sqlalchemy.url` or `$STAR_DATABASE_URL`.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection

from db.engine import make_engine
from db.models import SEARCH_TABLES, Base
from db.urls import default_database_url

# An arbitrary constant: concurrent `star db upgrade` runs on PostgreSQL queue
# on this advisory lock instead of racing through the same DDL.
PG_MIGRATION_LOCK = 0x5743_5441_52


def _modelled(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """False for the full-text search tables of one backend (revision 0007), which have no model."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table not in SEARCH_TABLES


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=_modelled,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
        context.run_migrations()


def main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if config.config_file_name is not None:  # run by hand via alembic.ini
        fileConfig(config.config_file_name)
    url = config.get_main_option("sqlalchemy.url") or default_database_url()
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
main()
