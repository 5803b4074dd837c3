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
from star.errors import StarError
from star.evaluation.heldout import GREEDY, SAMPLED, HeldOutAnswer, heldout_metrics, heldout_requests, load_verifier
from star.progress import Progress
from star.run_storage import checkpoint_exists
from star.storage_uri import is_uri
from star.tasks.base import Problem, Task
from star.verdicts import CHECK_ERRORS, ScoredItem

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
    from star.cluster import init_ray, start_workers, stop_workers
    from star.runner import store_problems
    from star.tasks import build_task

    task = build_task(config.task)
    with sessions() as session, session.begin():
        problems = store_problems(session, task, split,
                                  task.eval_problems() if split == "eval" else task.train_problems())
    init_ray(config)
    with progress.spinner("starting generation workers (vLLM)"):
        workers = start_workers(config, target.model, task)
    try:
        metrics = _evaluate(config, task, problems, workers, target, progress)
    finally:
        stop_workers(workers)
    with sessions() as session, session.begin():
        rnd = store.get_round(session, store.get_run(session, run_name), target.round_index)
        for metric, value in metrics.items():
            store.record_evaluation(session, rnd, split=target.split_name, metric=metric, value=value)
    return Outcome(target, metrics, len(problems))


def _evaluate(config: StarConfig, task: Task, problems: dict[int, Problem], workers, target: Target,
              progress: Progress) -> dict[str, float]:
    from star.orchestrator import checker_same_answers, recovery_of
    from star.pipeline import run_phase
    from star.recheck import rescore

    requests = heldout_requests(task, problems, config, target.round_index)
    with progress.bar(f"evaluating {target.model}", total=len(requests)) as advance:
        scored = run_phase(requests, problems, generators=workers.generators, checker=workers.checker,
                           store_batch=lambda batch: None, batch_size=config.sampling.batch_problems,
                           model=target.model, phase="star eval", recovery=recovery_of(config),
                           on_progress=advance, log=progress.log)
    errors = [i for i, item in enumerate(scored) if item.status in CHECK_ERRORS]
    if errors:  # a timed-out or crashed check is checked once more, as in a round
        again = rescore(workers.checker, [_check_item(scored[i]) for i in errors], config.checker.recheck_seconds,
                         config.recovery.batch_tries, config.recovery.restart_timeout)
        for i, item in zip(errors, again):
            scored[i] = item
    answers = {kind: [_answer(s) for s in scored if s.completion.kind == kind] for kind in (GREEDY, SAMPLED)}
    cfg = config.evaluation
    return heldout_metrics(task, problems, answers[GREEDY], answers[SAMPLED], k=cfg.k,
                           same_answers=checker_same_answers(workers.checker, config),
                           scorer=load_verifier(cfg.verifier) if cfg.verifier and answers[SAMPLED] else None)


def _check_item(item: ScoredItem):
    from star.verdicts import CheckItem

    return CheckItem(item.completion, item.problem)


def _answer(item: ScoredItem) -> HeldOutAnswer:
    c = item.completion
    return HeldOutAnswer(c.problem_id, c.sample_index, c.prompt, c.text, item.extracted, item.correct)
