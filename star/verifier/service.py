"""`star verifier train`: from a run's stored attempts to a recorded verifier.

1. Resolve the round: `--round R`, else the run's last finished round.
2. Build pairs from the training-split attempts of rounds 1..R (pairs.py),
   hold out a seeded share of the problems to measure the verifier on.
3. DPO-train from the round's checkpoint (training.py), in this process.
4. Score the held-out pairs, then record a `models` row of kind "verifier"
   with its lineage: run, round, the checkpoint it started from, pairs, steps
   and metrics.

Everything a user can get wrong (unknown run or round, nothing to pair, an
output folder that exists, a missing checkpoint) stops before training, with a
StarError naming the fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from db.models import Model, Run
from db.queries import last_done_round, training_attempts
from db.store import get_model, get_round, get_run, record_verifier
from star.config.storage import is_uri
from star.errors import StarError
from star.progress import Progress
from star.storage.runs import checkpoint_exists, local_output_dir
from star.tasks.base import model_prompt
from star.verifier.pairs import Candidate, Pair, build_pairs, pair_accuracy, split_pairs
from star.verifier.training import DpoSettings

if TYPE_CHECKING:
    from star.tasks.base import Task


@dataclass(frozen=True)
class VerifierOptions:
    """What `star verifier train` takes besides the run."""

    round_index: int | None = None
    out: Path | None = None
    init: str | None = None
    pairs_per_problem: int = 4
    holdout: float = 0.1
    dpo: DpoSettings = DpoSettings()


@dataclass(frozen=True)
class TrainingPlan:
    """Everything read from the store before training starts."""

    run: str
    round_index: int
    init: str
    out: Path
    train: list[Pair]
    held_out: list[Pair]
    problems: int
    #: the run's `checkpoint_cache`: where an init checkpoint in a storage URI is fetched to
    cache_dir: str | None = None
    #: the run's task when it sent prompts through the model's chat template, else None (text prompts)
    chat_task: Task | None = None

    def rows(self, pairs: list[Pair]) -> list[dict[str, Any]]:
        """TRL preference rows, each prompt as the policy was sent it (star.tasks.base.model_prompt)."""
        try:
            return [{**p.row(), "prompt": model_prompt(self.chat_task, p.prompt)} for p in pairs]
        except ValueError as exc:  # the task's few-shot examples changed since the run sent these prompts
            raise StarError(f"run {self.run!r}: a stored prompt does not fit the task rebuilt from the run's "
                            f"config ({exc}); restore the task's files (shots_path, templates) the run used") from None


def plan_training(session: Session, run_name: str, opts: VerifierOptions) -> TrainingPlan:
    """Read and check everything; raises StarError naming the fix before any training."""
    run = get_run(session, run_name)
    index = _round_index(session, run, opts.round_index)
    rows = training_attempts(session, run, index)
    candidates = [Candidate(r.problem_id, r.prompt, r.completion, r.status, r.correct, r.accepted) for r in rows]
    pairs = build_pairs(candidates, per_problem=opts.pairs_per_problem, seed=opts.dpo.seed)
    if not pairs:
        raise StarError(
            f"run {run_name!r} has no usable pairs in rounds 1-{index}: of its {len(rows)} training attempts, "
            "no problem has both an accepted and an incorrect rationale; run more rounds (`star run --resume "
            f"{run_name} --rounds N`) or sample more per problem (sampling.samples_per_problem)"
        )
    train, held_out = split_pairs(pairs, opts.holdout, opts.dpo.seed)
    checkpoint = get_model(session, run, index)
    init = opts.init or (checkpoint.path if checkpoint is not None else run.base_model)
    _check_init(init, recorded=opts.init is None and checkpoint is not None)
    out = opts.out or _default_out(checkpoint, index, session, run_name)
    if out.exists():
        raise StarError(f"{out} already exists; remove it or choose another --out")
    plan = TrainingPlan(run=run_name, round_index=index, init=init, out=out, train=train, held_out=held_out,
                        problems=len({p.problem_id for p in pairs}), cache_dir=run.config.get("checkpoint_cache"),
                        chat_task=chat_task(run))
    plan.rows(pairs)  # a prompt the rebuilt task cannot split into chat turns stops here, before training
    return plan


def train_and_record(sessions: sessionmaker[Session], plan: TrainingPlan, opts: VerifierOptions,
                     progress: Progress) -> dict[str, Any]:
    """Train the planned verifier, measure it on the held-out pairs, record it; returns the row as a dict."""
    from star.storage.runs import local_checkpoint
    from star.verifier.training import VerifierSpec, train_verifier

    # A checkpoint in a storage URI is trained from a local copy; the record keeps the URI (lineage).
    spec = VerifierSpec(init_model=local_checkpoint(plan.init, plan.cache_dir), output_dir=str(plan.out),
                        pairs=plan.rows(plan.train), settings=opts.dpo)
    with progress.spinner(f"verifier: DPO on {len(plan.train)} pairs, {opts.dpo.steps} steps, from {plan.init}"):
        result = train_verifier(spec, progress=False)
    metrics: dict[str, Any] = {"method": "dpo", "rounds": list(range(1, plan.round_index + 1)),
                               "train": result.metrics, "held_out_pairs": len(plan.held_out),
                               "held_out_accuracy": _held_out_accuracy(result.output_dir, plan.rows(plan.held_out)),
                               "options": _options_record(opts)}
    with sessions() as session, session.begin():
        row = record_verifier(session, run=get_run(session, plan.run), round_index=plan.round_index,
                              path=result.output_dir, init=plan.init, pairs=result.pairs, steps=result.steps,
                              metrics=metrics)
        return verifier_dict(row, plan.round_index)


def verifier_dict(row: Any, round_index: int) -> dict[str, Any]:
    """A verifier's `models` row as JSON-ready values."""
    return {"id": row.id, "kind": row.kind, "round": round_index, "path": row.path, "init": row.parent,
            "base": row.base, "pairs": row.train_examples, "steps": row.steps, "metrics": row.metrics,
            "created_at": row.created_at.isoformat()}


def _round_index(session: Session, run: Run, wanted: int | None) -> int:
    if wanted is None:
        last = last_done_round(session, run)
        if last is None:
            raise StarError(f"run {run.name!r} has no finished round yet; finish one (`star run --resume "
                            f"{run.name}`) or name a round with --round")
        return last
    if wanted < 1:
        raise StarError(f"--round must be 1 or more (round 0 only evaluates the starting model), got {wanted}")
    get_round(session, run, wanted)  # StoreError naming `star rounds RUN` when there is no such round
    return wanted


def _check_init(init: str, *, recorded: bool) -> None:
    """A recorded checkpoint, or any local folder, must hold a model; other names go to transformers."""
    if is_uri(init):
        if not checkpoint_exists(init):
            raise StarError(f"the verifier would start from {init}, which is not a complete checkpoint in its "
                            "storage; pass --init PATH with a checkpoint, or restore the run's storage")
        return
    if (recorded or Path(init).exists()) and not Path(init, "config.json").exists():
        raise StarError(f"the verifier would start from {init}, which is not a model folder (no config.json); "
                        "pass --init PATH with a checkpoint, or restore the run's storage")


def _default_out(checkpoint: Model | None, index: int, session: Session, run_name: str) -> Path:
    """Next to the round's checkpoint, in the run's storage; for a checkpoint in a storage URI, in the
    local folder of the run's files (star_runs next to the SQLite database, or in the working directory)."""
    if checkpoint is None:
        raise StarError(f"round {index} has no recorded checkpoint to put the verifier next to; pass --out PATH")
    if is_uri(checkpoint.path):
        url = session.get_bind().url.render_as_string(hide_password=False)
        return local_output_dir(checkpoint.path, url) / run_name / f"verifier_round_{index}"
    return Path(checkpoint.path).parent / f"verifier_round_{index}"


def _held_out_accuracy(path: str, held_out: list[dict[str, Any]]) -> float | None:
    if not held_out:
        return None
    from star.verifier.scorer import VerifierScorer

    scorer = VerifierScorer(path)
    prompts = [row["prompt"] for row in held_out]
    chosen = scorer.score(prompts, [row["chosen"] for row in held_out])
    rejected = scorer.score(prompts, [row["rejected"] for row in held_out])
    return pair_accuracy(chosen, rejected)


def chat_task(run: Run) -> Task | None:
    """The run's task when it sent its prompts through the model's chat template: the verifier must
    see them as the policy did. None for text prompts, without rebuilding the task."""
    if not (run.config.get("task") or {}).get("use_chat_template"):
        return None
    from star.config import validate_config
    from star.tasks import build_task

    try:
        return build_task(validate_config(run.config).task)
    except (StarError, ValueError, OSError) as exc:
        raise StarError(f"run {run.name!r} sent its prompts through the model's chat template, and its task could "
                        f"not be rebuilt to render them for the verifier: {exc}; restore the task's files where "
                        "the run's config names them") from None


def _options_record(opts: VerifierOptions) -> dict[str, Any]:
    """The recipe, for the store: pairing, hold-out and DPO settings."""
    return {"pairs_per_problem": opts.pairs_per_problem, "holdout": opts.holdout, **asdict(opts.dpo)}
