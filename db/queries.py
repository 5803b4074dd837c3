"""Read-side queries behind `star runs`, `star rationales` and `star show`.

Like db/store.py these take the session first and never commit. They return
ORM objects or plain dicts; rendering (tables, JSON) is the CLI's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from db.errors import StoreError
from db.models import ATTEMPT_KINDS, Attempt, Problem, Round, Run
from db.store import get_round, get_run

# Everything attempt_dict() reads, fetched in the same query.
_ATTEMPT_CONTEXT = (joinedload(Attempt.problem), joinedload(Attempt.round), joinedload(Attempt.run))


def list_runs(session: Session) -> list[dict[str, Any]]:
    """Every run, oldest first, with its number of rounds and latest round index."""
    query = (
        select(Run, func.count(Round.id), func.max(Round.index))
        .outerjoin(Round, Round.run_id == Run.id)
        .group_by(Run.id)
        .order_by(Run.id)
    )
    return [
        {
            "name": run.name,
            "status": run.status,
            "base_model": run.base_model,
            "rounds": n_rounds,
            "last_round": last,
            "created_at": run.created_at.isoformat(),
            "updated_at": run.updated_at.isoformat(),
        }
        for run, n_rounds, last in session.execute(query)
    ]


@dataclass(frozen=True)
class RationaleFilter:
    """What `star rationales` can filter on; None means "any"."""

    run: str
    round_index: int | None = None
    problem: str | None = None  # the problem's external id
    kind: str | None = None
    correct: bool | None = None
    contains: str | None = None  # case-insensitive substring of the completion
    limit: int = 20


def list_rationales(session: Session, flt: RationaleFilter) -> list[Attempt]:
    """Attempts matching `flt`, in the order they were stored; unknown run/round -> StoreError."""
    if flt.kind is not None and flt.kind not in ATTEMPT_KINDS:
        raise StoreError(f"unknown attempt kind {flt.kind!r}; use one of {', '.join(ATTEMPT_KINDS)}")
    if flt.limit < 1:
        raise StoreError(f"--limit must be at least 1, got {flt.limit}")
    run = get_run(session, flt.run)
    query = select(Attempt).options(*_ATTEMPT_CONTEXT)
    # Filtering on one indexed column and ordering by id lets both backends walk
    # the (round_id, id) or (run_id, id) index and stop after `limit` rows.
    if flt.round_index is not None:
        query = query.where(Attempt.round_id == get_round(session, run, flt.round_index).id)
    else:
        query = query.where(Attempt.run_id == run.id)
    if flt.problem is not None:
        problem_ids = select(Problem.id).where(Problem.external_id == flt.problem)
        query = query.where(Attempt.problem_id.in_(problem_ids))
    if flt.kind is not None:
        query = query.where(Attempt.kind == flt.kind)
    if flt.correct is not None:
        query = query.where(Attempt.correct.is_(flt.correct))
    if flt.contains:
        query = query.where(Attempt.completion.icontains(flt.contains, autoescape=True))
    return list(session.scalars(query.order_by(Attempt.id).limit(flt.limit)))


def get_attempt(session: Session, attempt_id: int) -> Attempt:
    """One attempt with its problem, round and run loaded; StoreError if there is none."""
    query = (
        select(Attempt)
        .where(Attempt.id == attempt_id)
        .options(*_ATTEMPT_CONTEXT)
    )
    attempt = session.scalars(query).one_or_none()
    if attempt is None:
        raise StoreError(f"no attempt with id {attempt_id}; `star rationales RUN` lists attempt ids")
    return attempt


def attempt_dict(attempt: Attempt) -> dict[str, Any]:
    """Everything about an attempt as JSON-ready values (for --json output)."""
    problem = attempt.problem
    return {
        "id": attempt.id,
        "run": attempt.run.name,
        "round": attempt.round.index,
        "problem": problem.external_id,
        "problem_id": problem.id,
        "dataset": problem.dataset,
        "split": problem.split,
        "kind": attempt.kind,
        "sample_index": attempt.sample_index,
        "question": problem.question,
        "gold": problem.gold,
        "prompt": attempt.prompt,
        "train_prompt": attempt.train_prompt,
        "completion": attempt.completion,
        "extracted": attempt.extracted,
        "status": attempt.status,
        "correct": attempt.correct,
        "accepted": attempt.accepted,
        "steps_ok": attempt.steps_ok,
        "prompt_tokens": attempt.prompt_tokens,
        "completion_tokens": attempt.completion_tokens,
        "model": attempt.model,
        "created_at": attempt.created_at.isoformat(),
    }
