"""A problem's story in a run: `star problem RUN ID`, the web view's problem page.

Every round that attempted the problem, with its state (db/outcomes.py), its
counts, the held-out answer and whether it changed, and every attempt of the
round: kind, sample, verdict, acceptance, completion. Rounds come a page at a
time (`first`, `rounds_per_page`), so a problem of a years-long nightly run
never reads more than a page of attempts; the overview of states covers all
rounds (one small row each, from `problem_rounds`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import StoreError
from db.models import ATTEMPT_KINDS, Attempt, Problem, ProblemRound, Round, Run
from db.outcomes import counts_dict, problem_dict, state_of
from db.store import get_run

MAX_ROUNDS_PER_PAGE = 50
#: attempts read per page at most (K samples of every kind, for a page of rounds)
MAX_ATTEMPTS_PER_PAGE = 5_000


def find_problem(session: Session, run: Run, external_id: str, *, split: str | None = None,
                 dataset: str | None = None) -> Problem:
    """The problem `external_id` that `run` attempted; StoreError if none, or several (naming the fix)."""
    query = select(Problem).where(Problem.external_id == external_id)
    if split is not None:
        query = query.where(Problem.split == split)
    if dataset is not None:
        query = query.where(Problem.dataset == dataset)
    attempted = select(ProblemRound.problem_id).where(ProblemRound.run_id == run.id,
                                                      ProblemRound.problem_id == Problem.id)
    found = list(session.scalars(query.where(attempted.exists()).order_by(Problem.id)))
    if not found:
        raise StoreError(f"run {run.name!r} has no attempts on a problem {external_id!r}; "
                         f"`star rationales {run.name}` lists the problems it attempted")
    if len(found) > 1:
        where = ", ".join(f"{p.dataset}/{p.split}" for p in found)
        raise StoreError(f"problem {external_id!r} of run {run.name!r} is in several datasets or splits "
                         f"({where}); pass --split (and --dataset) to pick one")
    return found[0]


def problem_story(session: Session, run_name: str, external_id: str, *, split: str | None = None,
                  dataset: str | None = None, first: int | None = None,
                  rounds_per_page: int = 10) -> dict[str, Any]:
    """The story of one problem in a run, one page of rounds from round `first` (default: its first)."""
    if not 1 <= rounds_per_page <= MAX_ROUNDS_PER_PAGE:
        raise StoreError(f"--rounds must be 1..{MAX_ROUNDS_PER_PAGE}, got {rounds_per_page}")
    run = get_run(session, run_name)
    problem = find_problem(session, run, external_id, split=split, dataset=dataset)
    overview = list(session.execute(
        select(ProblemRound, Round.index).join(Round, Round.id == ProblemRound.round_id)
        .where(ProblemRound.problem_id == problem.id, ProblemRound.run_id == run.id).order_by(Round.index)))
    indexes = [index for _, index in overview]
    start = 0 if first is None else next((n for n, i in enumerate(indexes) if i >= first), len(indexes))
    page = overview[start:start + rounds_per_page]
    previous = overview[start - 1] if start > 0 else None
    attempts = _attempts(session, problem.id, [row.round_id for row, _ in page] +
                         ([previous[0].round_id] if previous else []))
    rounds, answer = [], _heldout(attempts.get(previous[0].round_id, [])) if previous else None
    for row, index in page:
        shown = attempts.get(row.round_id, [])
        heldout = _heldout(shown)
        if heldout is not None:
            heldout["changed"] = answer is not None and heldout["answer"] != answer["answer"]
            answer = heldout
        rounds.append({"round": index, "state": state_of(row), "counts": counts_dict(row), "heldout": heldout,
                       "attempts": [_attempt_row(a) for a in shown]})
    after = start + rounds_per_page
    return {
        "run": run.name, "problem": problem_dict(problem),
        "states": [{"round": index, "state": state_of(row)} for row, index in overview],
        "rounds": rounds,
        "page": {"first": page[0][1] if page else None, "rounds_per_page": rounds_per_page,
                 "next": indexes[after] if after < len(indexes) else None,
                 "previous": indexes[max(0, start - rounds_per_page)] if start > 0 else None},
    }


def _attempts(session: Session, problem_id: int, round_ids: list[int]) -> dict[int, list[Attempt]]:
    """The problem's attempts in these rounds, by round, in kind and sample order."""
    if not round_ids:
        return {}
    query = (select(Attempt).where(Attempt.problem_id == problem_id, Attempt.round_id.in_(round_ids))
             .order_by(Attempt.round_id, Attempt.kind, Attempt.sample_index).limit(MAX_ATTEMPTS_PER_PAGE))
    by_round: dict[int, list[Attempt]] = {}
    for attempt in session.scalars(query):
        by_round.setdefault(attempt.round_id, []).append(attempt)
    order = {kind: n for n, kind in enumerate(ATTEMPT_KINDS)}
    for rows in by_round.values():
        rows.sort(key=lambda a: (order.get(a.kind, len(order)), a.sample_index))
    return by_round


def _heldout(attempts: list[Attempt]) -> dict[str, Any] | None:
    """The round's greedy held-out answer (kind `eval`), if it has one."""
    greedy = next((a for a in attempts if a.kind == "eval"), None)
    if greedy is None:
        return None
    return {"attempt_id": greedy.id, "answer": greedy.extracted, "correct": greedy.correct, "changed": False}


def _attempt_row(attempt: Attempt) -> dict[str, Any]:
    return {"id": attempt.id, "kind": attempt.kind, "sample_index": attempt.sample_index,
            "status": attempt.status, "extracted": attempt.extracted, "correct": attempt.correct,
            "accepted": attempt.accepted, "steps_ok": attempt.steps_ok, "completion": attempt.completion}
