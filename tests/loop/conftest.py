"""Fixtures of the fault tests: a run context on a real SQLite store with chosen workers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import ray
from sqlalchemy import func, select

import db.store as store
from db.engine import open_store, session_factory
from db.models import Attempt, Model, Round
from star.config import StarConfig, validate_config
from star.engines.requests import Completion, GenRequest
from star.loop.context import RunContext
from star.progress import Progress
from star.run.workers import Workers
from star.tasks import build_task


@ray.remote
class ScriptedGenerator:
    """Answers each problem with a fixed text: for tests about what happens after generation."""

    def __init__(self, texts: dict[int, str]) -> None:
        self.texts = texts

    def ready(self) -> bool:
        return True

    def generate(self, requests: list[GenRequest], model: str) -> list[Completion]:
        return [Completion(r.problem_id, r.kind, i, r.prompt, self.texts[r.problem_id], 1, 1, True)
                for r in requests for i in range(r.n)]


def latex_task_config(tmp_path: Path, golds: list[str], **overrides) -> StarConfig:
    """A jsonl task whose training problems have the given LaTeX golds (one held-out problem)."""
    rows = [{"question": f"Simplify expression {i}.", "answer": gold} for i, gold in enumerate(golds)]
    path, eval_path = tmp_path / "problems.jsonl", tmp_path / "held_out.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    eval_path.write_text(json.dumps({"question": "Held out.", "answer": "1"}) + "\n")
    raw = {
        "run_name": "fault", "rounds": 1, "model": "unused", "database": f"sqlite:///{tmp_path}/star.db",
        "storage": str(tmp_path / "runs"),
        "task": {"name": "jsonl", "train_path": str(path), "eval_path": str(eval_path), "answer_type": "latex",
                 "shots": 0},
        "sampling": {"samples_per_problem": 1, "batch_problems": 2},
    }
    raw.update(overrides)
    return validate_config(raw)


def run_context(config: StarConfig, *, generators: list, checker, trainer=None, clock=None) -> RunContext:
    task = build_task(config.task)
    sessions = session_factory(open_store(config.database))
    with sessions() as session, session.begin():
        store.get_or_create_run(session, config.run_name, config=config.model_dump(mode="json"), base_model="m0")
        train = _stored(session, task, "train", task.train_problems())
        held_out = _stored(session, task, "eval", task.eval_problems())
    extra = {"clock": clock} if clock else {}
    return RunContext(config=config, task=task, sessions=sessions, run_name=config.run_name, base_model="m0",
                      storage=config.storage, train=train, held_out=held_out,
                      workers=Workers(generators=generators, checker=checker, trainer=trainer),
                      progress=Progress(enabled=False), **extra)


def _stored(session, task, split, problems):
    rows = [store.ProblemRow(p.uid, p.question, p.gold, dict(p.metadata)) for p in problems]
    ids = store.upsert_problems(session, task.dataset, split, rows)
    return {ids[p.uid]: p for p in problems}


@pytest.fixture
def scripted_generator() -> type:
    return ScriptedGenerator


@pytest.fixture
def latex_config():
    return latex_task_config


@pytest.fixture
def make_context():
    return run_context


class HookedProgress(Progress):
    """Silent progress that records log lines and runs a hook once, after a chosen phase's first stored batch.

    Hooks are keyed by the bar's description, e.g. "round 1: generate". They run
    in the driver's loop, so the phase is certainly still running when they do.
    """

    def __init__(self, hooks: dict[str, Callable[[], None]]) -> None:
        super().__init__(enabled=False)
        self.hooks = dict(hooks)
        self.lines: list[tuple[float, str]] = []

    def log(self, message: str) -> None:
        self.lines.append((time.monotonic(), message))

    @contextmanager
    def bar(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        hook = self.hooks.pop(description, None)

        def advance(n: int) -> None:
            nonlocal hook
            if hook is not None:
                run, hook = hook, None
                run()

        yield advance


def start_run(config: StarConfig, progress: Progress) -> RunContext:
    """What `star run` sets up (store, problems, real workers), keeping the context for the test."""
    from star.run.driver import store_problems
    from star.run.ray_start import init_ray
    from star.run.workers import start_workers

    sessions = session_factory(open_store(config.database))
    task = build_task(config.task)
    with sessions() as session, session.begin():
        run = store.get_or_create_run(session, config.run_name, config=config.model_dump(mode="json"),
                                      base_model=config.model)
        store.set_run_status(session, run, "running")
        train = store_problems(session, task, "train", task.train_problems())
        held_out = store_problems(session, task, "eval", task.eval_problems())
    init_ray(config)  # a no-op when the test is already connected
    workers = start_workers(config, config.model, task)
    return RunContext(config=config, task=task, sessions=sessions, run_name=config.run_name,
                      base_model=config.model, storage=config.storage, train=train, held_out=held_out,
                      workers=workers, progress=progress)


@pytest.fixture
def hooked_progress() -> type:
    return HookedProgress


@pytest.fixture
def start_real_run():
    return start_run


K, HINTED = 2, 4


def assert_exact_counts(ctx) -> None:
    """Every attempt stored once: K per training problem, HINTED per failed one, one eval per round."""
    n_train, n_eval = len(ctx.train), len(ctx.held_out)
    with ctx.sessions() as session:
        rounds = {r.index: r for r in session.scalars(select(Round))}
        assert set(rounds) == {0, 1} and all(r.status == "done" for r in rounds.values())
        keys = session.execute(select(Attempt.round_id, Attempt.problem_id, Attempt.kind, Attempt.sample_index))
        keys = list(keys)
        assert len(keys) == len(set(keys))  # no duplicates (the unique key would refuse them anyway)
        n = dict(session.execute(select(Attempt.kind, func.count()).where(Attempt.round_id == rounds[1].id)
                                 .group_by(Attempt.kind)).all())
        assert n["direct"] == n_train * K and n["eval"] == n_eval
        failed = session.scalar(select(func.count(func.distinct(Attempt.problem_id))).where(
            Attempt.round_id == rounds[1].id, Attempt.kind == "direct")) - rounds[1].accepted_direct
        assert n.get("rationalized", 0) == HINTED * failed
        round0 = dict(session.execute(select(Attempt.kind, func.count()).where(Attempt.round_id == rounds[0].id)
                                      .group_by(Attempt.kind)).all())
        samples = ctx.config.evaluation.samples
        assert round0 == {"eval": n_eval, **({"eval_sample": n_eval * samples} if samples else {})}
        assert n.get("eval_sample", 0) == n_eval * samples
        assert session.scalar(select(func.count()).select_from(Model)) == 1


@pytest.fixture
def real_round_config(tiny_round_config):
    """The shared small real round (tests/conftest.py) with K direct and HINTED hinted samples."""
    def build(tmp_path: Path, model: Path, **overrides) -> dict:
        # held-out samples kept: the kill tests time a kill to land inside round 1's evaluation
        return tiny_round_config(tmp_path, model, samples=K, hinted=HINTED, eval_per_digits=12, eval_samples=8,
                                 database=f"sqlite:///{tmp_path}/star.db", **overrides)
    return build


@pytest.fixture(name="assert_exact_counts")
def _assert_exact_counts():
    return assert_exact_counts
