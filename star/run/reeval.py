"""`star eval`: evaluate a recorded checkpoint (or any model folder) again, with today's settings.

An older run gets the new metrics (maj@k, pass@k, the verifier strategies)
without touching what its rounds recorded: the metrics are stored on the round
under their own split name, `<split>@<name>` (e.g. `eval@reeval`), and the
answers stay in memory (attempts belong to the round that generated them).
Re-running with the same name replaces that name's numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import db.store as store
from db.models import Round
from star.config import StarConfig
from star.config.storage import is_uri
from star.errors import StarError
from star.evaluation.heldout import load_verifier
from star.loop.evaluate import evaluate_unstored
from star.progress import Progress
from star.run.driver import store_problems
from star.run.ray_start import init_ray
from star.run.workers import start_workers, stop_workers
from star.storage.runs import checkpoint_exists
from star.tasks import build_task

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,50}$")
SPLITS = ("eval", "train")


@dataclass(frozen=True)
class Target:
    """What to evaluate: the round the metrics are stored on and the model to serve."""

    round_index: int
    model: str
    split_name: str  # e.g. eval@reeval


@dataclass(frozen=True)
class Outcome:
    target: Target
    metrics: dict[str, float]
    problems: int


def resolve_target(session: Session, run_name: str, *, round_index: int | None, model: str | None,
                   split: str, name: str | None) -> Target:
    """The round and model to evaluate; StoreError / StarError naming what is wrong and the fix."""
    if split not in SPLITS:
        raise StarError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    label = name or (Path(model).name if model else "reeval")
    if not _NAME_RE.match(label):
        raise StarError(f"evaluation name {label!r} must be 1-50 letters, digits, '_', '.' or '-'; pass --name")
    run = store.get_run(session, run_name)
    rnd = store.get_round(session, run, round_index) if round_index is not None else _last_evaluated(session, run)
    if rnd is None:
        raise StarError(f"run {run_name!r} has no round with a checkpoint yet; pass --model PATH or finish a round")
    path = model or rnd.model_out
    if path is None:
        raise StarError(f"round {rnd.index} of run {run_name!r} has no checkpoint yet (status {rnd.status}); "
                        "pass --model PATH, or a --round that finished")
    return Target(rnd.index, _model_folder(path, given=model is not None), f"{split}@{label}")


def _last_evaluated(session: Session, run) -> Round | None:
    query = (select(Round).where(Round.run_id == run.id, Round.model_out.is_not(None))
             .order_by(Round.index.desc()).limit(1))
    return session.scalars(query).one_or_none()


def _model_folder(path: str, *, given: bool) -> str:
    if is_uri(path):  # a checkpoint in a storage URI: the engines fetch it on their nodes
        if not checkpoint_exists(path):
            fix = "check the URI" if given else "its checkpoint was removed from the storage; pass --model PATH"
            raise StarError(f"model {path} is not a complete checkpoint in its storage; {fix}")
        return path
    folder = Path(path).expanduser().resolve()
    if not (folder / "config.json").is_file():
        what = "does not exist" if not folder.exists() else "has no config.json (not a Hugging Face model folder)"
        fix = "pass a model folder" if given else "its checkpoint was removed; pass --model PATH"
        raise StarError(f"model {path} {what}; {fix}")
    return str(folder)


def reevaluate(config: StarConfig, run_name: str, sessions: sessionmaker[Session], target: Target, *,
               split: str, progress: Progress) -> Outcome:
    """Start Ray and the workers as `star run` does, evaluate, store the metrics under target.split_name."""
    task = build_task(config.task)
    with sessions() as session, session.begin():
        problems = store_problems(session, task, split,
                                  task.eval_problems() if split == "eval" else task.train_problems())
    init_ray(config)
    with progress.spinner("starting generation workers (vLLM)"):
        workers = start_workers(config, target.model, task)
    try:
        metrics = evaluate_unstored(config, task, problems, workers, model=target.model,
                                    round_index=target.round_index, progress=progress, scorer_factory=load_verifier)
    finally:
        stop_workers(workers)
    with sessions() as session, session.begin():
        rnd = store.get_round(session, store.get_run(session, run_name), target.round_index)
        for metric, value in metrics.items():
            store.record_evaluation(session, rnd, split=target.split_name, metric=metric, value=value)
    return Outcome(target, metrics, len(problems))
