"""Fixtures for the store tests: real SQLite files and a real PostgreSQL server.

PostgreSQL tests (marked `postgres`) use one fresh database per test session,
dropped at the end, with a fresh schema per test for isolation. If the server
is down they fail, naming the fix; they never skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db import migrate
from db.engine import make_engine, open_store, session_factory
from db.store import (
    AttemptRow,
    ProblemRow,
    get_or_create_round,
    get_or_create_run,
    insert_attempts,
    record_evaluation,
    update_round,
    upsert_problems,
)

PG_SERVER = os.environ.get("STAR_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a database created for this test session and dropped after it."""
    name = f"star_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_SERVER} is not reachable ({exc}); start it with .ci/run")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_SERVER}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A URL whose search_path is a fresh, empty schema: an empty database for one test."""
    schema = f"t_{secrets.token_hex(4)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{pg_database}?options=-csearch_path%3D{schema}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike) -> str:
    return f"sqlite:///{tmp_path}/star.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """An empty database URL, once per backend."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A store at head on each backend (PostgreSQL migrated the way users do it)."""
    if store_url.startswith("postgresql"):
        bare = make_engine(store_url)
        migrate.upgrade(bare)
        bare.dispose()
    eng = open_store(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@dataclass(frozen=True)
class Seeded:
    run: str
    problems: dict[str, int]  # external id -> problem id (train split)
    rounds: dict[int, int]  # round index -> round id


def attempt(
    round_id: int,
    problem_id: int,
    kind: str,
    sample: int,
    *,
    ok: bool,
    completion: str = "",
    prompt: str | None = None,
    accepted: bool | None = None,
) -> AttemptRow:
    """An AttemptRow with sensible defaults; `prompt` defaults to one per problem."""
    train_prompt = f"Q{problem_id}: what is it?\nA:"
    return AttemptRow(
        round_id=round_id, problem_id=problem_id, kind=kind, sample_index=sample,
        prompt=prompt if prompt is not None else train_prompt, train_prompt=train_prompt,
        completion=completion or f"steps for {problem_id}/{kind}/{sample}. answer {'4' if ok else '5'}",
        extracted="4" if ok else "5", status="correct" if ok else "incorrect", correct=ok,
        accepted=ok if accepted is None else accepted, steps_ok=None, prompt_tokens=7,
        completion_tokens=12, model="tiny",
    )


def seed_run(factory: sessionmaker[Session], name: str = "demo") -> Seeded:
    """A run with round 0 (eval only), round 1 (direct + rationalized) and round 2 (direct).

    Accepted: round 1 has p0, p1 direct and p2, p3 rationalized; round 2 has p0-p3
    direct. DPO pairs: round 1 has 1+1+2+2 = 6, round 2 has 4.
    """
    with factory.begin() as s:
        run = get_or_create_run(s, name, config={"samples": 2}, base_model="tiny")
        train = upsert_problems(s, "arith", "train", [
            ProblemRow(f"p{i}", f"{i} + 2 = ?", "4", {"digits": 1}) for i in range(6)])
        evals = upsert_problems(s, "arith", "eval", [
            ProblemRow(f"e{i}", f"{i} + 3 = ?", "4", {"digits": 1}) for i in range(4)])
        rounds = {i: get_or_create_round(s, run, i).id for i in range(3)}
        rows = [attempt(rounds[0], pid, "eval", 0, ok=ext == "e0") for ext, pid in evals.items()]
        for r, n_ok in ((1, 2), (2, 4)):
            for i in range(6):
                pid = train[f"p{i}"]
                rows += [attempt(rounds[r], pid, "direct", k, ok=(k == 0 and i < n_ok)) for k in range(2)]
        for i in range(2, 6):
            pid = train[f"p{i}"]
            rows.append(attempt(rounds[1], pid, "rationalized", 0, ok=i < 4,
                                prompt=f"Q{pid}: what is it? (hint: the answer is 4)\nA:"))
        insert_attempts(s, rows)
        by_index = {rnd.index: rnd for rnd in run.rounds}
        for index, acc in ((0, 0.25), (1, 0.5), (2, 0.75)):
            record_evaluation(s, by_index[index], split="eval", metric="accuracy", value=acc)
            record_evaluation(s, by_index[index], split="eval", metric="accuracy/digits=1", value=acc)
        update_round(s, by_index[1], status="done", counts={
            "attempted": 12, "accepted_direct": 2, "accepted_rationalized": 2, "train_examples": 4})
        update_round(s, by_index[2], status="done", counts={
            "attempted": 12, "accepted_direct": 4, "accepted_rationalized": 0, "train_examples": 4})
    return Seeded(run=name, problems=train, rounds=rounds)


@pytest.fixture
def seeded(factory: sessionmaker[Session]) -> Seeded:
    return seed_run(factory)


# Test modules get the helpers as fixtures: tests/ is not a package, so they
# cannot import this conftest by name.
@pytest.fixture(name="make_attempt")
def make_attempt_fixture() -> object:
    return attempt


@pytest.fixture(name="seed_run")
def seed_run_fixture() -> object:
    return seed_run


def build_states(factory: sessionmaker[Session], name: str, train: dict[str, str], evals: dict[str, str] | None = None,
                 groups: dict[str, int] | None = None) -> Seeded:
    """A run whose problems go through given states, one letter per round (index = position).

    Training problems: S solved (an accepted direct sample), H hint-only (no accepted direct, an
    accepted rationalized one), U unsolved (neither), - not attempted. Held-out problems (round 0
    on): R right greedy answer, W wrong, - none; the extracted answer is the letter's round-unique
    text, so a right answer after a wrong one "changed". `groups` gives each problem's digits.
    """
    evals = evals or {}
    groups = groups or {}
    with factory.begin() as s:
        run = get_or_create_run(s, name, config={}, base_model="tiny")
        train_ids = upsert_problems(s, "arith", "train", [
            ProblemRow(p, f"{p}: 2 + 2 = ?", "4", {"digits": groups.get(p, 1)}) for p in train])
        eval_ids = upsert_problems(s, "arith", "eval", [
            ProblemRow(p, f"{p}: 3 + 1 = ?", "4", {"digits": groups.get(p, 1)}) for p in evals])
        n_rounds = max(len(s_) for s_ in [*train.values(), *evals.values()])
        rounds = {i: get_or_create_round(s, run, i).id for i in range(n_rounds)}
        rows: list[AttemptRow] = []
        for ext, states in train.items():
            for r, state in enumerate(states):
                rows += _train_attempts(rounds[r], train_ids[ext], state)
        for ext, states in evals.items():
            for r, state in enumerate(states):
                if state != "-":
                    rows.append(attempt(rounds[r], eval_ids[ext], "eval", 0, ok=state == "R", accepted=False,
                                        completion=f"greedy {ext} round {r}: answer {'4' if state == 'R' else '5'}"))
        insert_attempts(s, rows)
    return Seeded(run=name, problems={**train_ids, **eval_ids}, rounds=rounds)


def _train_attempts(round_id: int, problem_id: int, state: str) -> list[AttemptRow]:
    if state == "-":
        return []
    rows = [attempt(round_id, problem_id, "direct", k, ok=state == "S" and k == 0) for k in range(2)]
    if state in "HU":
        hint = f"Q{problem_id}: what is it? (hint: the answer is 4)\nA:"
        rows.append(attempt(round_id, problem_id, "rationalized", 0, ok=state == "H", prompt=hint))
    return rows


@pytest.fixture(name="build_states")
def build_states_fixture() -> object:
    return build_states
