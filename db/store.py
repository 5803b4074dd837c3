"""What the loop writes and reads back: runs, rounds, problems, attempts, models.

Every function takes the session first and never commits: the caller owns the
transaction (one per batch of attempts), so a crash mid-batch leaves nothing
half-written and a retry re-inserts the same rows, which the unique keys turn
into no-ops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from db.bulk import ATTEMPT_COLUMNS, OPTIONAL_COLUMNS, insert_attempt_tuples
from db.errors import StoreError
from db.models import ATTEMPT_KINDS, POLICY_ONLY, Attempt, Evaluation, Model, Problem, Round, Run, utcnow
from db.upsert import dialect_insert, insert_ignoring_duplicates

# Count keys with their own column in `rounds`; anything else lands in extra_counts.
ROUND_COUNTS = ("attempted", "accepted_direct", "accepted_rationalized", "train_examples", "train_steps")
# Ids per `IN (...)` list, well under SQLite's bound-parameter limit.
_IN_CHUNK = 5_000
# The rows of `models` that are round checkpoints (the partial unique index's condition).
_POLICY = Model.kind == "policy"


@dataclass(frozen=True)
class ProblemRow:
    external_id: str
    question: str
    gold: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class AttemptVerdict:
    """A new judgement of a stored attempt (a re-check after a checker timeout or crash)."""

    attempt_id: int
    status: str
    correct: bool
    accepted: bool
    extracted: str | None
    steps_ok: bool | None
    refusal: str | None = None
    path_key: str | None = None


@dataclass(frozen=True)
class AttemptRow:
    round_id: int
    problem_id: int
    kind: str
    sample_index: int
    prompt: str
    train_prompt: str
    completion: str
    extracted: str | None
    status: str
    correct: bool
    accepted: bool
    steps_ok: bool | None
    prompt_tokens: int
    completion_tokens: int
    model: str
    refusal: str | None = None
    path_key: str | None = None


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- runs and rounds -------------------------------------------------------


def get_or_create_run(session: Session, name: str, *, config: dict, base_model: str) -> Run:
    """The run called `name`, created with this config if new (an existing run keeps its own)."""
    now = utcnow()
    row = {"name": name, "config": config, "base_model": base_model, "status": "created",
           "created_at": now, "updated_at": now}
    insert_ignoring_duplicates(session, Run.__table__, [row], ["name"])
    return session.scalars(select(Run).where(Run.name == name)).one()


def get_run(session: Session, name: str) -> Run:
    run = session.scalars(select(Run).where(Run.name == name)).one_or_none()
    if run is None:
        raise StoreError(f"no run named {name!r}; `star runs` lists them")
    return run


def set_run_status(session: Session, run: Run, status: str, *, error: str | None = None) -> None:
    """Set the run's status; `error` says why it failed (cleared by any other status)."""
    run.status = status
    run.error = error
    session.flush()


def get_or_create_round(session: Session, run: Run, index: int) -> Round:
    now = utcnow()
    row = {"run_id": run.id, "round_index": index, "status": "pending", "timings": {},
           "extra_counts": {}, "created_at": now, "updated_at": now}
    insert_ignoring_duplicates(session, Round.__table__, [row], ["run_id", "round_index"])
    return session.scalars(select(Round).where(Round.run_id == run.id, Round.index == index)).one()


def get_round(session: Session, run: Run, index: int) -> Round:
    rnd = session.scalars(select(Round).where(Round.run_id == run.id, Round.index == index)).one_or_none()
    if rnd is None:
        raise StoreError(f"run {run.name!r} has no round {index}; `star rounds {run.name}` lists them")
    return rnd


def update_round(
    session: Session,
    rnd: Round,
    *,
    status: str | None = None,
    model_in: str | None = None,
    model_out: str | None = None,
    timings: dict[str, float] | None = None,
    counts: dict[str, int | float] | None = None,
) -> None:
    """Set the given fields; timings and counts are merged into what is stored (a float count, such as a
    chosen sampling temperature, stays a float)."""
    if status is not None:
        rnd.status = status
    if model_in is not None:
        rnd.model_in = model_in
    if model_out is not None:
        rnd.model_out = model_out
    if timings:
        rnd.timings = {**rnd.timings, **timings}  # a new dict, so the ORM sees the change
    extra = {}
    for key, value in (counts or {}).items():
        if key in ROUND_COUNTS:
            setattr(rnd, key, int(value))
        else:
            extra[key] = value if isinstance(value, float) else int(value)
    if extra:
        rnd.extra_counts = {**rnd.extra_counts, **extra}
    rnd.updated_at = utcnow()
    session.flush()


def record_dataset_snapshot(
    session: Session, run: Run, *, through_round: int, dataset_hash: str, rows: int
) -> None:
    """Note the training data on every round up to `through_round` that is not done yet.

    Called once per `star run` invocation, before its rounds start: those are
    the rounds that will train on this pool. Finished rounds keep what they saw.
    """
    for index in range(through_round + 1):
        rnd = get_or_create_round(session, run, index)
        if rnd.status != "done":
            rnd.dataset_hash, rnd.dataset_rows = dataset_hash, rows
    session.flush()


# --- problems and attempts -------------------------------------------------


def upsert_problems(
    session: Session, dataset: str, split: str, problems: Sequence[ProblemRow]
) -> dict[str, int]:
    """Store problems (existing ones are left as they are); returns external_id -> id."""
    now = utcnow()
    rows = [
        {"dataset": dataset, "split": split, "external_id": p.external_id, "question": p.question,
         "gold": p.gold, "metadata": p.metadata, "created_at": now}
        for p in sorted(problems, key=lambda p: p.external_id)  # lock order, as for attempts
    ]
    insert_ignoring_duplicates(session, Problem.__table__, rows, ["dataset", "split", "external_id"])
    ids: dict[str, int] = {}
    external = [p.external_id for p in problems]
    for chunk in _chunks(external):
        query = select(Problem.external_id, Problem.id).where(
            Problem.dataset == dataset, Problem.split == split, Problem.external_id.in_(chunk)
        )
        ids.update({ext: pid for ext, pid in session.execute(query)})
    return ids


def insert_attempts(session: Session, rows: Sequence[AttemptRow]) -> int:
    """Insert a batch of attempts, skipping keys already stored; returns how many were new.

    Call it once per transaction: rows are sorted by key within a call, which
    is what keeps concurrent writers on PostgreSQL free of deadlocks.
    """
    if not rows:
        return 0
    round_ids = sorted({r.round_id for r in rows})
    run_of = dict(session.execute(select(Round.id, Round.run_id).where(Round.id.in_(round_ids))).all())
    missing = set(round_ids) - run_of.keys()
    if missing:
        raise ValueError(f"insert_attempts: unknown round ids {sorted(missing)}")
    bad = {r.kind for r in rows} - set(ATTEMPT_KINDS)
    if bad:
        raise ValueError(f"insert_attempts: kind must be one of {ATTEMPT_KINDS}, got {sorted(bad)}")
    now = utcnow()
    # Key order: concurrent PostgreSQL writers with overlapping batches then
    # take row locks in the same order and cannot deadlock each other.
    ordered = sorted(rows, key=lambda r: (r.round_id, r.problem_id, r.kind, r.sample_index))
    tuples = [
        (run_of[r.round_id], r.round_id, r.problem_id, r.kind, r.sample_index, r.prompt,
         r.train_prompt, r.completion, r.extracted, r.status, bool(r.correct), bool(r.accepted),
         r.steps_ok, r.refusal, r.path_key, r.prompt_tokens, r.completion_tokens, r.model, now)
        for r in ordered
    ]
    if any(r.refusal is not None or r.path_key is not None for r in ordered):
        return insert_attempt_tuples(session, tuples)
    kept = [i for i, name in enumerate(ATTEMPT_COLUMNS) if name not in OPTIONAL_COLUMNS]
    return insert_attempt_tuples(session, [tuple(row[i] for i in kept) for row in tuples],
                                 tuple(ATTEMPT_COLUMNS[i] for i in kept))


def attempt_keys(session: Session, round_id: int) -> set[tuple[int, str, int]]:
    """(problem_id, kind, sample_index) of every attempt already stored for the round."""
    query = select(Attempt.problem_id, Attempt.kind, Attempt.sample_index).where(
        Attempt.round_id == round_id
    )
    return {(pid, kind, idx) for pid, kind, idx in session.execute(query)}


def attempt_verdicts(session: Session, round_id: int, kind: str) -> list[tuple[int, bool]]:
    """(problem_id, accepted) of every attempt of one kind in a round, without loading their texts."""
    query = select(Attempt.problem_id, Attempt.accepted).where(Attempt.round_id == round_id, Attempt.kind == kind)
    return [(pid, bool(accepted)) for pid, accepted in session.execute(query)]


def round_attempts(session: Session, round_id: int, kind: str) -> list[Attempt]:
    """All attempts of one kind in a round, by problem and sample (to resume a round)."""
    query = (
        select(Attempt)
        .where(Attempt.round_id == round_id, Attempt.kind == kind)
        .order_by(Attempt.problem_id, Attempt.sample_index)
    )
    return list(session.scalars(query))


def attempts_with_status(session: Session, round_id: int, kinds: Sequence[str],
                         statuses: Sequence[str]) -> list[Attempt]:
    """The round's attempts of these kinds whose verdict has one of `statuses`, in key order."""
    query = (
        select(Attempt)
        .where(Attempt.round_id == round_id, Attempt.kind.in_(list(kinds)), Attempt.status.in_(list(statuses)))
        .order_by(Attempt.problem_id, Attempt.kind, Attempt.sample_index)
    )
    return list(session.scalars(query))


def count_attempts_with_status(session: Session, round_id: int, statuses: Sequence[str]) -> int:
    query = select(func.count()).select_from(Attempt).where(
        Attempt.round_id == round_id, Attempt.status.in_(list(statuses))
    )
    return int(session.scalar(query) or 0)


def update_attempt_verdicts(session: Session, verdicts: Sequence[AttemptVerdict]) -> int:
    """Replace the verdict fields of stored attempts in place; returns how many rows changed.

    The rest of an attempt (its key, prompt and completion) never changes.
    """
    changed = 0
    for chunk in _chunks(verdicts):
        rows = {a.id: a for a in session.scalars(select(Attempt).where(Attempt.id.in_([v.attempt_id for v in chunk])))}
        for verdict in chunk:
            row = rows.get(verdict.attempt_id)
            if row is None:
                raise StoreError(f"no attempt with id {verdict.attempt_id}; re-check only stored attempts")
            row.status, row.correct, row.accepted = verdict.status, bool(verdict.correct), bool(verdict.accepted)
            row.extracted, row.steps_ok = verdict.extracted, verdict.steps_ok
            row.refusal, row.path_key = verdict.refusal, verdict.path_key
            changed += 1
    session.flush()
    return changed


def accepted_triplets(session: Session, round_id: int) -> list[Attempt]:
    """The round's accepted direct and rationalized attempts: its training set."""
    query = (
        select(Attempt)
        .where(
            Attempt.round_id == round_id,
            Attempt.accepted.is_(True),
            Attempt.kind.in_(("direct", "rationalized")),
        )
        .options(selectinload(Attempt.problem))
        .order_by(Attempt.id)
    )
    return list(session.scalars(query))


# --- models and evaluations ------------------------------------------------


def record_model(
    session: Session,
    *,
    run: Run,
    round_index: int,
    path: str,
    parent: str | None,
    base: str,
    train_examples: int,
    steps: int,
    metrics: dict,
) -> Model:
    """Record the checkpoint of a round; a second call for the same round keeps the first."""
    rnd = get_or_create_round(session, run, round_index)
    row = {"run_id": run.id, "round_id": rnd.id, "kind": "policy", "path": path, "parent": parent,
           "base": base, "train_examples": train_examples, "steps": steps, "metrics": metrics,
           "created_at": utcnow()}
    insert_ignoring_duplicates(session, Model.__table__, [row], ["round_id"], key_where=POLICY_ONLY)
    return session.scalars(select(Model).where(Model.round_id == rnd.id, _POLICY)).one()


def get_model(session: Session, run: Run, round_index: int) -> Model | None:
    """The policy checkpoint of a round (verifiers trained on the round are not it)."""
    query = select(Model).join(Round).where(Model.run_id == run.id, Round.index == round_index, _POLICY)
    return session.scalars(query).one_or_none()


def record_verifier(
    session: Session, *, run: Run, round_index: int, path: str, init: str, pairs: int, steps: int,
    metrics: dict,
) -> Model:
    """Record a verifier trained on `run`'s attempts of rounds up to `round_index`.

    `init` is the checkpoint it was fine-tuned from (its `parent`); `pairs` the
    number of (correct, incorrect) pairs it saw (stored as `train_examples`).
    """
    row = Model(run_id=run.id, round_id=get_round(session, run, round_index).id, kind="verifier", path=path,
                parent=init, base=run.base_model, train_examples=pairs, steps=steps, metrics=metrics,
                created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def list_verifiers(session: Session, run: Run) -> list[tuple[Model, int]]:
    """The run's verifiers with the index of the last round they trained on, oldest first."""
    query = (
        select(Model, Round.index).join(Round, Round.id == Model.round_id)
        .where(Model.run_id == run.id, Model.kind == "verifier").order_by(Model.id)
    )
    return [(model, index) for model, index in session.execute(query)]


def record_evaluation(session: Session, rnd: Round, *, split: str, metric: str, value: float) -> None:
    """Store one metric, replacing an earlier value for the same (round, split, metric)."""
    row = {"round_id": rnd.id, "split": split, "metric": metric, "value": float(value),
           "created_at": utcnow()}
    stmt = dialect_insert(session, Evaluation.__table__).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["round_id", "split", "metric"],
        set_={"value": stmt.excluded.value, "created_at": stmt.excluded.created_at},
    )
    session.execute(stmt)
