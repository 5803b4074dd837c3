"""Revision 0005: attempts of kind eval_sample, on a store that already holds data and views."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import migrate
from db.engine import make_engine


def _insert(conn: sa.Connection, kind: str, index: int) -> None:
    conn.execute(sa.text(
        "INSERT INTO attempts (run_id, round_id, problem_id, kind, sample_index, prompt, train_prompt, completion, "
        "status, correct, accepted, prompt_tokens, completion_tokens, model, created_at) "
        "VALUES (1, 1, 1, :kind, :index, 'p', 'p', 'c', 'correct', true, false, 0, 0, 'm', CURRENT_TIMESTAMP)"),
        {"kind": kind, "index": index})


def test_upgrade_keeps_rows_and_views_and_downgrade_drops_the_samples(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        migrate.upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO runs (id, name, config, status, base_model, created_at, updated_at) "
                                 "VALUES (1, 'r', '{}', 'done', 'm', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            conn.execute(sa.text("INSERT INTO rounds (id, run_id, round_index, status, timings, extra_counts, "
                                 "created_at, updated_at) VALUES (1, 1, 0, 'done', '{}', '{}', "
                                 "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            conn.execute(sa.text("INSERT INTO problems (id, dataset, split, external_id, question, gold, metadata, "
                                 "created_at) VALUES (1, 'd', 'eval', 'x', 'q', '1', '{}', CURRENT_TIMESTAMP)"))
            _insert(conn, "eval", 0)
        with pytest.raises(IntegrityError), engine.begin() as conn:
            _insert(conn, "eval_sample", 0)  # 0004 does not know the kind

        migrate.upgrade(engine, "0005")
        with engine.begin() as conn:
            _insert(conn, "eval_sample", 0)
            assert conn.scalar(sa.text("SELECT stored_eval FROM round_summary")) == 1  # views are back
            assert conn.scalar(sa.text("SELECT count(*) FROM attempts")) == 2
        with pytest.raises(IntegrityError), engine.begin() as conn:
            _insert(conn, "bogus", 0)

        migrate.downgrade(engine, "0004")
        with Session(engine) as session:
            assert session.scalars(sa.text("SELECT kind FROM attempts")).all() == ["eval"]
            assert session.scalar(sa.text("SELECT count(*) FROM accepted_triplets")) == 0
    finally:
        engine.dispose()
