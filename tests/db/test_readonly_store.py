"""The read-only engine behind `star serve` (db/readonly.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db import migrate
from db.errors import StoreError
from db.readonly import open_readonly
from star.serve.app import create_app


def test_a_write_through_the_web_views_session_fails(store_url, engine, seeded) -> None:
    readonly = open_readonly(store_url)
    try:
        app = create_app(readonly, token=None, label="test")
        with app.state.sessions() as s:
            # PostgreSQL: the URL's own options (this test's search_path) are kept beside read-only.
            assert s.scalar(text("SELECT count(*) FROM runs WHERE name = 'demo'")) == 1
            for write in ("UPDATE runs SET status = 'hacked'", "DELETE FROM attempts",
                          "INSERT INTO search_queue (attempt_id) VALUES (1)" if "postgresql" in store_url
                          else "INSERT INTO attempts_fts (attempts_fts) VALUES ('rebuild')"):
                with pytest.raises(DBAPIError, match="read-only|readonly"):
                    s.execute(text(write))
                s.rollback()
    finally:
        readonly.dispose()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT status FROM runs WHERE name = 'demo'")) != "hacked"
        assert conn.scalar(text("SELECT count(*) FROM attempts")) > 0


def test_only_an_existing_store_at_head_is_served(store_url, engine, tmp_path) -> None:
    with pytest.raises(StoreError, match="no database at .*missing.db"):
        open_readonly(f"sqlite:///{tmp_path}/missing.db")
    with pytest.raises(StoreError, match="in-memory database"):
        open_readonly("sqlite://")
    migrate.downgrade(engine, "0006")
    with pytest.raises(StoreError, match=r"is at revision 0006, behind \w+; run `star db upgrade --db "):
        open_readonly(store_url)
