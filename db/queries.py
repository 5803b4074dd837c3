"""Read-side queries behind `star runs`, `star rationales` and `star show`.

Like db/store.py these take the session first and never commit. They return
ORM objects or plain dicts; rendering (tables, JSON) is the CLI's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, any_, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, joinedload

from db.errors import StoreError
from db.models import ATTEMPT_KINDS, REFUSALS, Attempt, Problem, Round, Run, RunLease
from db.store import get_round, get_run

_LIKE_SPECIAL = re.compile(r"[/%_]")  # escaped so --contains is a literal substring
# Everything attempt_dict() reads, fetched in the same query.
ATTEMPT_CONTEXT = (joinedload(Attempt.problem), joinedload(Attempt.round), joinedload(Attempt.run))


def list_runs(session: Session, *, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Every run (or a page of `limit` from `offset`), oldest first, with its number of rounds and latest round."""
    query = (
        select(Run, func.count(Round.id), func.max(Round.index))
        .outerjoin(Round, Round.run_id == Run.id)
        .group_by(Run.id)
        .order_by(Run.id)
        .limit(limit)
        .offset(offset)
    )
    drivers = {
        run_id: (f"pid {pid} on {host}" + (f" (Ray job {job})" if job else ""), beat)
        for run_id, host, pid, job, beat in session.execute(
            select(RunLease.run_id, RunLease.host, RunLease.pid, RunLease.job_id, RunLease.heartbeat_at))
    }
    return [
        {
            "name": run.name,
            "status": run.status,
            "error": run.error,
            "base_model": run.base_model,
            "rounds": n_rounds,
            "last_round": last,
            # The driver holding the run's lease (None when no driver holds it).
            "driver": drivers[run.id][0] if run.id in drivers else None,
            "heartbeat_at": drivers[run.id][1].isoformat() if run.id in drivers else None,
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
    search: str | None = None  # full-text query (db/search.py): words, "a phrase", OR, -word
    accepted: bool | None = None
    after_id: int | None = None  # only attempts with a larger id: the next page after this one
    refusal: str | None = None  # a reason of db.models.REFUSALS, or "any" for every refused right attempt


def check_filter(flt: RationaleFilter) -> None:
    """StoreError naming the bad option of `flt`, if any."""
    if flt.kind is not None and flt.kind not in ATTEMPT_KINDS:
        raise StoreError(f"unknown attempt kind {flt.kind!r}; use one of {', '.join(ATTEMPT_KINDS)}")
    if flt.limit < 1:
        raise StoreError(f"--limit must be at least 1, got {flt.limit}")
    if flt.refusal is not None and flt.refusal not in (*REFUSALS, "any"):
        raise StoreError(f"unknown refusal {flt.refusal!r}; use one of {', '.join(REFUSALS)} or any")


def attempt_conditions(flt: RationaleFilter) -> list[ColumnElement[bool]]:
    """The conditions on `attempts` of every filter but run, round, search and after_id."""
    conditions: list[ColumnElement[bool]] = []
    if flt.problem is not None:
        conditions.append(Attempt.problem_id.in_(select(Problem.id).where(Problem.external_id == flt.problem)))
    if flt.kind is not None:
        conditions.append(Attempt.kind == flt.kind)
    if flt.correct is not None:
        conditions.append(Attempt.correct.is_(flt.correct))
    if flt.accepted is not None:
        conditions.append(Attempt.accepted.is_(flt.accepted))
    if flt.refusal == "any":
        conditions.append(Attempt.refusal.is_not(None))
    elif flt.refusal is not None:
        conditions.append(Attempt.refusal == flt.refusal)
    if flt.contains:
        # ILIKE on PostgreSQL (lower(x) LIKE lower(y), as icontains() writes it, is
        # several times slower there); SQLite's LIKE ignores ASCII case anyway.
        pattern = "%" + _LIKE_SPECIAL.sub(r"/\g<0>", flt.contains) + "%"
        conditions.append(Attempt.completion.ilike(pattern, escape="/"))
    return conditions


def round_ids(session: Session, run: Run, round_index: int | None) -> list[int]:
    """Ids of one round of `run` (StoreError if it has none such) or of all its rounds."""
    if round_index is not None:
        return [get_round(session, run, round_index).id]
    return list(session.scalars(select(Round.id).where(Round.run_id == run.id).order_by(Round.id)))


def in_rounds(session: Session, ids: list[int]) -> ColumnElement[bool]:
    """`attempts.round_id` in `ids`, phrased so that `ORDER BY round_id, id` uses the index.

    PostgreSQL turns `round_id IN (3)` into `round_id = 3`, after which its
    planner may walk the primary key and filter, assuming matches are spread
    evenly: 200 ms instead of 0.2 ms when the round is at the end of the table.
    `= ANY(array)` keeps round_id a list, so only the (round_id, id) index can
    deliver that order, and it is always chosen.
    """
    if session.get_bind().dialect.name == "postgresql":
        return Attempt.round_id == any_(literal(ids, ARRAY(Integer)))
    return Attempt.round_id.in_(ids)


def list_rationales(session: Session, flt: RationaleFilter) -> list[Attempt]:
    """Attempts matching `flt`, by round and then in the order they were stored.

    `flt.search` is ignored here: db/search.py's search_rationales answers it.
    Unknown run or round -> StoreError.
    """
    check_filter(flt)
    run = get_run(session, flt.run)
    ids = round_ids(session, run, flt.round_index)
    query = select(Attempt).options(*ATTEMPT_CONTEXT).where(in_rounds(session, ids), *attempt_conditions(flt))
    if flt.after_id is not None:
        # The next page in (round, id) order: a later `star eval` can store round 0's rows after round 3's.
        after_round = select(Attempt.round_id).where(Attempt.id == flt.after_id).scalar_subquery()
        query = query.where(tuple_(Attempt.round_id, Attempt.id) > tuple_(after_round, flt.after_id))
    query = query.order_by(Attempt.round_id, Attempt.id).limit(flt.limit)
    return list(session.scalars(query))


def get_attempt(session: Session, attempt_id: int) -> Attempt:
    """One attempt with its problem, round and run loaded; StoreError if there is none."""
    query = (
        select(Attempt)
        .where(Attempt.id == attempt_id)
        .options(*ATTEMPT_CONTEXT)
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
        "refusal": attempt.refusal,
        "path_key": attempt.path_key,
        "prompt_tokens": attempt.prompt_tokens,
        "completion_tokens": attempt.completion_tokens,
        "model": attempt.model,
        "created_at": attempt.created_at.isoformat(),
    }


@dataclass(frozen=True)
class LabeledAttempt:
    """A training-split attempt with what a verifier needs: its hint-free prompt and verdict."""

    id: int
    round: int
    problem_id: int
    prompt: str  # the training prompt: a rationalized attempt's hint is removed
    completion: str
    status: str
    correct: bool
    accepted: bool


def training_attempts(session: Session, run: Run, through_round: int) -> list[LabeledAttempt]:
    """Direct and rationalized attempts of `run` on training problems, rounds 1..through_round.

    Evaluation attempts (kind `eval`, held-out problems) are never returned:
    a verifier trained on them would be scored on what it learned from.
    """
    query = (
        select(Attempt.id, Round.index, Attempt.problem_id, Attempt.train_prompt, Attempt.completion,
               Attempt.status, Attempt.correct, Attempt.accepted)
        .join(Round, Round.id == Attempt.round_id)
        .join(Problem, Problem.id == Attempt.problem_id)
        .where(Attempt.run_id == run.id, Round.index <= through_round,
               Attempt.kind.in_(("direct", "rationalized")), Problem.split == "train")
        .order_by(Attempt.problem_id, Attempt.id)
    )
    return [LabeledAttempt(*row) for row in session.execute(query)]


def last_done_round(session: Session, run: Run) -> int | None:
    """The highest finished STaR round (>= 1) of `run`; None if none has finished."""
    query = select(func.max(Round.index)).where(Round.run_id == run.id, Round.status == "done", Round.index >= 1)
    return session.scalar(query)
