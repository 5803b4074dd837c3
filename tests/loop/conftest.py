"""Fixtures of the fault tests: a run context on a real SQLite store with chosen workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ray

import db.store as store
from db.engine import open_store, session_factory
from star.cluster import Workers
from star.config import StarConfig, validate_config
from star.generation import Completion, GenRequest
from star.orchestrator import RunContext
from star.progress import Progress
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
                      storage=Path(config.storage), train=train, held_out=held_out,
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
