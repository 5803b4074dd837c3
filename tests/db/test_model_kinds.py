"""`models.kind` (revision 0006): policy checkpoints and verifiers side by side, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db import migrate
from db.engine import make_engine
from db.store import get_model, get_run, list_verifiers, record_model, record_verifier


def _policy(session: Session, run: Any, index: int, path: str) -> None:
    record_model(session, run=run, round_index=index, path=path, parent=None, base="tiny",
                 train_examples=3, steps=4, metrics={})


def test_verifiers_do_not_shadow_the_rounds_checkpoint(factory: sessionmaker[Session], seeded: Any) -> None:
    with factory.begin() as s:
        run = get_run(s, seeded.run)
        # A verifier recorded first must not be taken for the round's checkpoint, nor block it.
        record_verifier(s, run=run, round_index=2, path="/v/a", init="/ckpt/2", pairs=10, steps=5,
                        metrics={"rounds": [1, 2]})
        assert get_model(s, run, 2) is None
        _policy(s, run, 2, "/ckpt/2")
        _policy(s, run, 2, "/ckpt/2-again")  # a second policy for the round keeps the first
        record_verifier(s, run=run, round_index=2, path="/v/b", init="/ckpt/2", pairs=12, steps=6, metrics={})
    with factory() as s:
        run = get_run(s, seeded.run)
        policy = get_model(s, run, 2)
        assert (policy.kind, policy.path) == ("policy", "/ckpt/2")
        verifiers = list_verifiers(s, run)
        assert [(m.kind, m.path, m.parent, m.base, m.train_examples, m.steps, index) for m, index in verifiers] == [
            ("verifier", "/v/a", "/ckpt/2", "tiny", 10, 5, 2), ("verifier", "/v/b", "/ckpt/2", "tiny", 12, 6, 2)]
        assert verifiers[0][0].metrics == {"rounds": [1, 2]}


def test_existing_checkpoints_become_policies_and_downgrade_drops_verifiers(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        migrate.upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO runs (name, config, status, base_model) VALUES ('r', '{}', 'done', 'b')"))
            conn.execute(sa.text("INSERT INTO rounds (run_id, round_index, status, timings, extra_counts) "
                                 "VALUES (1, 1, 'done', '{}', '{}')"))
            conn.execute(sa.text("INSERT INTO models (run_id, round_id, path, base, train_examples, steps, metrics) "
                                 "VALUES (1, 1, '/ckpt/1', 'b', 1, 1, '{}')"))
        migrate.upgrade(engine)
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT kind FROM models")).scalars().all() == ["policy"]
            conn.execute(sa.text("INSERT INTO models (run_id, round_id, kind, path, base, train_examples, steps, "
                                 "metrics) VALUES (1, 1, 'verifier', '/v', 'b', 1, 1, '{}')"))
        migrate.downgrade(engine, "0004")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT path FROM models")).scalars().all() == ["/ckpt/1"]
        assert "kind" not in {c["name"] for c in sa.inspect(engine).get_columns("models")}
    finally:
        engine.dispose()


def test_kind_is_checked(factory: sessionmaker[Session], seeded: Any) -> None:
    with pytest.raises(IntegrityError), factory.begin() as s:
        s.execute(sa.text("INSERT INTO models (run_id, round_id, kind, path, base, train_examples, steps, metrics) "
                          "VALUES (:run, :round, 'critic', '/x', 'b', 0, 0, '{}')"),
                  {"run": get_run(s, seeded.run).id, "round": seeded.rounds[1]})
