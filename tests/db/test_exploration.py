"""Exploration and refusal counts of a round (db/exploration.py), on hand-built stores with known answers."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from db import migrate
from db.engine import make_engine, session_factory
from db.exploration import exploration, exploration_counts, refused
from db.store import (
    ProblemRow,
    get_or_create_round,
    get_or_create_run,
    get_round,
    get_run,
    insert_attempts,
    update_round,
    upsert_problems,
)
from db.summaries import round_summaries


def _with(row, **fields):
    return dataclasses.replace(row, **fields)


def _build(factory, make_attempt) -> None:
    """Round 1: p0 right 2 of 2 on one path; p1 right 1 of 2; p2 wrong 2 of 2, its hinted retry refused
    (no_work). Held-out: e0 sampled 1 of 4 right, e1 0 of 4. Round 2: p0 right on the round-1 path and
    a new one, p1's hinted retry accepted on a new path."""
    with factory.begin() as s:
        run = get_or_create_run(s, "explore", config={}, base_model="tiny")
        train = upsert_problems(s, "arith", "train", [ProblemRow(f"p{i}", f"{i}+2", "4", {}) for i in range(3)])
        held = upsert_problems(s, "arith", "eval", [ProblemRow(f"e{i}", f"{i}+3", "4", {}) for i in range(2)])
        one, two = (get_or_create_round(s, run, i).id for i in (1, 2))
        p0, p1, p2 = (train[f"p{i}"] for i in range(3))
        rows = [
            _with(make_attempt(one, p0, "direct", 0, ok=True), path_key="a"),
            _with(make_attempt(one, p0, "direct", 1, ok=True), path_key="a"),
            _with(make_attempt(one, p1, "direct", 0, ok=True), path_key="b"),
            make_attempt(one, p1, "direct", 1, ok=False),
            make_attempt(one, p2, "direct", 0, ok=False),
            make_attempt(one, p2, "direct", 1, ok=False),
            _with(make_attempt(one, p2, "rationalized", 0, ok=True, accepted=False), path_key="c",
                  refusal="no_work"),
            *[make_attempt(one, held["e0"], "eval_sample", k, ok=k == 0) for k in range(4)],
            *[make_attempt(one, held["e1"], "eval_sample", k, ok=False) for k in range(4)],
            _with(make_attempt(two, p0, "direct", 0, ok=True), path_key="a"),
            _with(make_attempt(two, p0, "direct", 1, ok=True), path_key="d"),
            make_attempt(two, p1, "direct", 0, ok=False),
            _with(make_attempt(two, p1, "rationalized", 0, ok=True), path_key="e"),
        ]
        insert_attempts(s, rows)


def test_counts_and_shares_of_a_round(factory, make_attempt) -> None:
    _build(factory, make_attempt)
    with factory() as s:
        run = get_run(s, "explore")
        first = exploration_counts(s, get_round(s, run, 1))
        second = exploration_counts(s, get_round(s, run, 2))
    assert first == {"pool_problems": 3, "pool_solved_any": 2, "pool_solved_all": 1, "pool_correct_paths": 2,
                     "new_paths": 3, "heldout_samples": 8, "heldout_samples_right": 1, "heldout_sampled": 2,
                     "heldout_sampled_solved": 1, "refused_no_work": 1}
    shares = exploration(first)
    assert shares["solved_any"] == 2 / 3 and shares["solved_all"] == 1 / 3
    assert abs(shares["solved_none"] - 1 / 3) < 1e-12 and shares["paths_per_solved"] == 1.0
    assert shares["heldout_pass_k_minus_pass_1"] == 1 / 2 - 1 / 8
    assert refused(first) == 1
    # round 2: p0's path "a" was accepted in round 1, "d" and p1's "e" are new; nothing sampled held-out
    assert second["new_paths"] == 2 and second["pool_correct_paths"] == 2 and "refused_no_work" not in second
    assert exploration(second)["heldout_pass_k_minus_pass_1"] is None
    assert exploration({}) == dict.fromkeys(shares, None)


def test_round_summaries_carry_what_the_round_kept(factory, make_attempt) -> None:
    _build(factory, make_attempt)
    with factory.begin() as s:
        run = get_run(s, "explore")
        rnd = get_round(s, run, 1)
        update_round(s, rnd, status="done", counts=exploration_counts(s, rnd))
    with factory() as s:
        summaries = {r["round"]: r for r in round_summaries(s, get_run(s, "explore"))}
    assert summaries[1]["refused"] == 1 and summaries[1]["pool_solved_any"] == 2
    assert summaries[1]["exploration"]["solved_any"] == 2 / 3
    assert summaries[2]["refused"] == 0 and summaries[2]["exploration"]["solved_any"] is None  # not kept yet


def test_revision_0009_adds_and_removes_the_columns_around_stored_rows(store_url, seed_run, make_attempt) -> None:
    engine = make_engine(store_url)
    migrate.upgrade(engine, "0008")
    seeded = seed_run(session_factory(engine))  # written without the new columns
    migrate.upgrade(engine)
    factory = session_factory(engine)
    with engine.connect() as conn:
        nulls = conn.scalar(sa.text("SELECT count(*) FROM attempts WHERE refusal IS NULL AND path_key IS NULL"))
        assert nulls == conn.scalar(sa.text("SELECT count(*) FROM attempts")) > 0
    with factory.begin() as s:
        insert_attempts(s, [_with(make_attempt(seeded.rounds[2], seeded.problems["p5"], "direct", 7, ok=True),
                                  path_key="k", refusal=None)])
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM attempts WHERE path_key = 'k'")) == 1
    migrate.downgrade(engine, "0008")
    assert {"refusal", "path_key"}.isdisjoint(c["name"] for c in sa.inspect(engine).get_columns("attempts"))
    with factory.begin() as s:  # the writer still writes a store at 0008 (rows without the new fields)
        insert_attempts(s, [make_attempt(seeded.rounds[2], seeded.problems["p5"], "direct", 8, ok=True)])
    engine.dispose()
