"""The loop's write/read contract (db/store.py) on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import StoreError
from db.models import Attempt, Problem
from db.store import (
    ProblemRow,
    accepted_triplets,
    attempt_keys,
    get_model,
    get_or_create_round,
    get_or_create_run,
    get_run,
    insert_attempts,
    record_evaluation,
    record_model,
    round_attempts,
    set_run_status,
    update_round,
    upsert_problems,
)
from db.summaries import round_summaries


def test_run_and_round_are_created_once(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        run = get_or_create_run(s, "r", config={"a": 1}, base_model="tiny")
        again = get_or_create_run(s, "r", config={"a": 2}, base_model="other")
        assert again.id == run.id and again.config == {"a": 1}  # an existing run keeps its config
        assert get_or_create_round(s, run, 3).id == get_or_create_round(s, run, 3).id
        set_run_status(s, run, "running")
    with factory() as s:
        assert get_run(s, "r").status == "running"
        with pytest.raises(StoreError, match="no run named 'missing'; `star runs` lists them"):
            get_run(s, "missing")


def test_problems_upsert_is_idempotent(factory: sessionmaker[Session]) -> None:
    rows = [ProblemRow(f"x{i}", f"q{i}", str(i), {"i": i}) for i in range(7)]
    with factory.begin() as s:
        first = upsert_problems(s, "gsm8k", "train", rows)
        second = upsert_problems(s, "gsm8k", "train", rows[3:])
        other_split = upsert_problems(s, "gsm8k", "test", rows[:1])
    assert len(first) == 7 and second == {k: first[k] for k in second}
    assert other_split["x0"] != first["x0"]  # unique per (dataset, split, external id)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Problem)) == 8
        assert s.get(Problem, first["x5"]).meta == {"i": 5}


def test_insert_attempts_counts_only_new_rows(
    make_attempt: Any, factory: sessionmaker[Session], seeded: Any
) -> None:
    with factory.begin() as s:
        round1 = seeded.rounds[1]
        again = [make_attempt(round1, seeded.problems["p0"], "direct", k, ok=False) for k in range(2)]
        fresh = [make_attempt(round1, seeded.problems["p0"], "direct", k, ok=False) for k in range(2, 5)]
        assert insert_attempts(s, again) == 0
        assert insert_attempts(s, again + fresh) == 3
        assert insert_attempts(s, []) == 0
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Attempt)) == 4 + 24 + 4 + 3
        stored = s.scalars(select(Attempt).where(Attempt.round_id == round1, Attempt.sample_index == 0,
                                                 Attempt.problem_id == seeded.problems["p0"])).one()
        assert stored.correct  # the re-insert with ok=False did not overwrite the original


def test_insert_attempts_large_batch_spans_statements(
    make_attempt: Any, factory: sessionmaker[Session]
) -> None:
    # More rows than one multi-row INSERT holds (SQLite's parameter limit), in one call.
    with factory.begin() as s:
        run = get_or_create_run(s, "big", config={}, base_model="tiny")
        rnd = get_or_create_round(s, run, 1)
        problems = [ProblemRow(str(i), "q", "a", {}) for i in range(500)]
        pids = list(upsert_problems(s, "d", "train", problems).values())
        rows = [make_attempt(rnd.id, pid, "direct", k, ok=k == 0) for pid in pids for k in range(10)]
        assert insert_attempts(s, rows) == 5000
        assert insert_attempts(s, rows) == 0
        assert len(attempt_keys(s, rnd.id)) == 5000


def test_insert_attempts_rejects_bad_rows(
    make_attempt: Any, factory: sessionmaker[Session], seeded: Any
) -> None:
    with factory() as s:
        with pytest.raises(ValueError, match="unknown round ids"):
            insert_attempts(s, [make_attempt(999_999, seeded.problems["p0"], "direct", 0, ok=True)])
        with pytest.raises(ValueError, match="kind must be one of"):
            insert_attempts(s, [make_attempt(seeded.rounds[1], seeded.problems["p0"], "guess", 0, ok=True)])
        # Foreign keys are enforced on SQLite too (PRAGMA foreign_keys=ON).
        with pytest.raises(IntegrityError):
            insert_attempts(s, [make_attempt(seeded.rounds[1], 999_999, "direct", 0, ok=True)])


def test_resume_queries(factory: sessionmaker[Session], seeded: Any) -> None:
    with factory() as s:
        keys = attempt_keys(s, seeded.rounds[1])
        assert len(keys) == 12 + 4
        assert (seeded.problems["p2"], "rationalized", 0) in keys
        direct = round_attempts(s, seeded.rounds[1], "direct")
        assert [(a.problem_id, a.sample_index) for a in direct] == sorted(
            (pid, k) for pid in seeded.problems.values() for k in range(2))
        triplets = accepted_triplets(s, seeded.rounds[1])
        assert sorted((t.problem.external_id, t.kind) for t in triplets) == [
            ("p0", "direct"), ("p1", "direct"), ("p2", "rationalized"), ("p3", "rationalized")]
        assert all(t.accepted for t in triplets)
        # The store keeps what the engine saw (hinted) apart from what the trainer gets.
        rationalized = [t for t in triplets if t.kind == "rationalized"]
        assert all("(hint: the answer is 4)" in t.prompt for t in rationalized)
        assert all(t.train_prompt == f"Q{t.problem_id}: what is it?\nA:" for t in triplets)
        assert accepted_triplets(s, seeded.rounds[0]) == []  # eval attempts never train


def test_accepted_differs_from_correct(
    make_attempt: Any, factory: sessionmaker[Session], seeded: Any
) -> None:
    # answer_and_steps mode: a correct answer with bad steps is stored but not trained on.
    with factory.begin() as s:
        row = make_attempt(seeded.rounds[2], seeded.problems["p5"], "direct", 7, ok=True, accepted=False)
        insert_attempts(s, [row])
    with factory() as s:
        ids = [a.problem_id for a in accepted_triplets(s, seeded.rounds[2])]
        assert seeded.problems["p5"] not in ids and len(ids) == 4


def test_models_and_evaluations(factory: sessionmaker[Session], seeded: Any) -> None:
    with factory.begin() as s:
        run = get_run(s, seeded.run)
        first = record_model(s, run=run, round_index=1, path="/ckpt/1", parent=None, base="tiny",
                             train_examples=4, steps=40, metrics={"loss": 0.5})
        again = record_model(s, run=run, round_index=1, path="/other", parent=None, base="tiny",
                             train_examples=1, steps=1, metrics={})
        assert again.id == first.id and again.path == "/ckpt/1"
        record_model(s, run=run, round_index=3, path="/ckpt/3", parent="/ckpt/1", base="tiny",
                     train_examples=4, steps=57, metrics={})  # creates round 3
        rnd = get_or_create_round(s, run, 1)
        record_evaluation(s, rnd, split="eval", metric="accuracy", value=0.9)
    with factory() as s:
        run = get_run(s, seeded.run)
        assert get_model(s, run, 3).parent == "/ckpt/1"
        assert get_model(s, run, 2) is None
        summaries = {r["round"]: r for r in round_summaries(s, run)}
        assert summaries[1]["eval_accuracy"] == 0.9  # upserted, not duplicated
        assert sorted(summaries) == [0, 1, 2, 3]


def test_round_summaries(factory: sessionmaker[Session], seeded: Any) -> None:
    with factory.begin() as s:
        rnd = get_or_create_round(s, get_run(s, seeded.run), 2)
        update_round(s, rnd, timings={"generate": 2.0}, counts={"train_steps": 48, "problems": 6})
        update_round(s, rnd, timings={"train": 3.5}, model_out="/ckpt/2")
    with factory() as s:
        summaries = round_summaries(s, get_run(s, seeded.run))
    assert [r["round"] for r in summaries] == [0, 1, 2]
    zero, one, two = summaries
    assert zero["eval_accuracy"] == 0.25 and zero["stored"] == {"direct": 0, "rationalized": 0, "eval": 4, "eval_sample": 0}
    assert zero["attempted"] is None  # the loop reported no counts for round 0
    counts = ("attempted", "accepted_direct", "accepted_rationalized", "train_examples")
    assert [one[key] for key in counts] == [12, 2, 2, 4]
    assert one["stored"] == {"direct": 12, "rationalized": 4, "eval": 0, "eval_sample": 0}
    assert two["timings"] == {"generate": 2.0, "train": 3.5} and two["model_out"] == "/ckpt/2"
    assert two["train_steps"] == 48 and two["problems"] == 6
    assert two["metrics"] == {"accuracy": 0.75, "accuracy/digits=1": 0.75}


def test_round_summaries_name_the_test_time_strategies_and_keep_star_eval_apart(
        factory: sessionmaker[Session], seeded: Any) -> None:
    with factory.begin() as s:
        rnd = get_or_create_round(s, get_run(s, seeded.run), 2)
        for metric, value in {"maj@8": 0.8, "maj@8/digits=1": 0.9, "pass@8": 0.95, "best_of_n@8": 0.7,
                              "weighted_best_of_n@8": 0.85}.items():
            record_evaluation(s, rnd, split="eval", metric=metric, value=value)
        record_evaluation(s, rnd, split="eval@again", metric="maj@4", value=0.5)
    with factory() as s:
        zero, _, two = round_summaries(s, get_run(s, seeded.run))
    assert (two["eval_maj_at_k"], two["eval_pass_at_k"], two["eval_k"]) == (0.8, 0.95, 8)
    assert (two["eval_best_of_n"], two["eval_weighted_best_of_n"], two["eval_n"]) == (0.7, 0.85, 8)
    assert two["evaluations"] == {"eval@again": {"maj@4": 0.5}}  # not mixed into the round's own numbers
    assert zero["eval_maj_at_k"] is None and "eval_best_of_n" not in zero


def test_views_answer_plain_sql(factory: sessionmaker[Session], seeded: Any) -> None:
    with factory() as s:
        rows = s.execute(text(
            "SELECT run, round, question, rationale, answer, rationalized, prompt FROM accepted_triplets"
            " ORDER BY round, attempt_id")).all()
        summary = s.execute(text(
            "SELECT round, eval_accuracy, stored_direct, stored_rationalized, stored_eval, accepted_direct"
            " FROM round_summary WHERE run = 'demo' ORDER BY round")).all()
    assert len(rows) == 8 and {r.run for r in rows} == {"demo"}
    assert [bool(r.rationalized) for r in rows[:4]] == [False, False, True, True]
    assert all(r.answer == "4" for r in rows)
    # The view's prompt is the training prompt: the rationalized rows were stored with a hinted one.
    assert [r.prompt for r in rows[:4]] == [f"Q{seeded.problems[f'p{i}']}: what is it?\nA:" for i in range(4)]
    assert [tuple(r) for r in summary] == [
        (0, 0.25, 0, 0, 4, None), (1, 0.5, 12, 4, 0, 2), (2, 0.75, 12, 0, 0, 4)]


def test_second_run_is_independent(
    seed_run: Any, factory: sessionmaker[Session], seeded: Any
) -> None:
    other = seed_run(factory, "other")
    assert other.problems == seeded.problems  # problems are shared across runs
    with factory() as s:
        assert len(accepted_triplets(s, other.rounds[1])) == 4
        assert s.scalar(select(func.count()).select_from(Attempt)) == 2 * (4 + 24 + 4)
