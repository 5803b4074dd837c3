"""Revision 0007 on a store created at 0006 with data: counts backfilled, search indexed after, and back down."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from db import migrate
from db.engine import make_engine, session_factory
from db.queries import RationaleFilter
from db.search import search_rationales
from db.search_index import pending_count
from db.store import get_or_create_round, get_run, insert_attempts
from star.cli import cli, register_commands

register_commands()

GROUPED = ("SELECT round_id, problem_id, count(*), sum(CASE WHEN correct THEN 1 ELSE 0 END) FROM attempts "
           "GROUP BY round_id, problem_id ORDER BY round_id, problem_id")
KEPT = ("SELECT round_id, problem_id, direct + rationalized + eval + eval_sample, "
        "direct_correct + rationalized_correct + eval_correct + eval_sample_correct "
        "FROM problem_rounds ORDER BY round_id, problem_id")


def rows(conn: sa.Connection, sql: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(sa.text(sql))]


@pytest.fixture
def old_store(store_url: str, seed_run) -> sa.Engine:
    """A store at revision 0006 holding the demo run (written by the store functions of today)."""
    engine = make_engine(store_url)
    migrate.upgrade(engine, "0006")
    seed_run(session_factory(engine))
    yield engine
    engine.dispose()


def accepted_counts_match(conn: sa.Connection) -> None:
    # The seeded eval attempts are accepted too, which problem_rounds does not count: compare
    # counts and right answers over every kind, and accepted ones over direct + rationalized.
    assert rows(conn, KEPT) == rows(conn, GROUPED)
    train_accepted = rows(conn, "SELECT round_id, problem_id, sum(CASE WHEN accepted THEN 1 ELSE 0 END) FROM attempts "
                                "WHERE kind IN ('direct', 'rationalized') GROUP BY round_id, problem_id "
                                "ORDER BY round_id, problem_id")
    assert train_accepted == rows(conn, "SELECT round_id, problem_id, direct_accepted + rationalized_accepted "
                                        "FROM problem_rounds WHERE direct + rationalized > 0 "
                                        "ORDER BY round_id, problem_id")


def test_upgrade_backfills_then_indexes_and_downgrade_restores(store_url, old_store, make_attempt) -> None:
    engine = old_store
    migrate.upgrade(engine)
    factory = session_factory(engine)
    with engine.connect() as conn:
        accepted_counts_match(conn)
        total = conn.scalar(sa.text("SELECT count(*) FROM attempts"))
        assert conn.scalar(sa.text("SELECT count(*) FROM problem_flips WHERE run = 'demo'")) == 10
    with factory() as s:
        assert pending_count(s) == total  # stored before 0007: waiting for the indexer
        assert search_rationales(s, RationaleFilter(run="demo", search="steps")) == []
    # `star db upgrade` on a store already at head still indexes what is pending, with a count.
    out = CliRunner().invoke(cli, ["db", "upgrade", "--db", store_url], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert f"indexed {total} stored attempts for full-text search" in out.output
    with factory() as s:
        assert pending_count(s) == 0
        assert len(search_rationales(s, RationaleFilter(run="demo", search="steps", limit=100))) == total
    with factory.begin() as s:  # the triggers count new attempts
        round_id = get_or_create_round(s, get_run(s, "demo"), 3).id
        insert_attempts(s, [make_attempt(round_id, 1, "direct", 0, ok=True)])
    with engine.connect() as conn:
        accepted_counts_match(conn)

    migrate.downgrade(engine, "0006")
    inspector = sa.inspect(engine)
    assert "problem_rounds" not in inspector.get_table_names()
    assert not {"attempts_fts", "attempt_search", "search_queue"} & set(inspector.get_table_names())
    assert {"problem_story", "problem_flips"}.isdisjoint(inspector.get_view_names())
    assert "ix_attempts_problem_id" in {i["name"] for i in inspector.get_indexes("attempts")}
    with factory.begin() as s:  # no trigger is left behind to fail an insert
        insert_attempts(s, [make_attempt(round_id, 2, "direct", 0, ok=True)])
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM attempts")) == total + 2
        assert conn.scalar(sa.text("SELECT count(*) FROM accepted_triplets")) > 0

    migrate.upgrade(engine)  # and up again, counting every attempt once
    with engine.connect() as conn:
        accepted_counts_match(conn)
