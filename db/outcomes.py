"""A problem's outcome in a round, read from `problem_rounds` (revision 0007's trigger-kept counts).

One definition, used by stories, flips and run comparisons, and by the
`problem_story` / `problem_flips` views:

- a training problem in a round is **solved** when it has an accepted direct
  attempt, **hint-only** when it has none but an accepted rationalized one,
  else **unsolved**;
- a held-out problem is **solved** when its greedy (`eval`) answer is right,
  else **unsolved**;
- a round that attempted neither way (e.g. only `eval_sample`) has no state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import StoreError
from db.models import Problem, ProblemRound, Round, Run

STATES = ("unsolved", "hint-only", "solved")  # index = the state's code in SQL
COUNTS = ("direct", "direct_correct", "direct_accepted", "rationalized", "rationalized_correct",
          "rationalized_accepted", "eval", "eval_correct", "eval_sample", "eval_sample_correct")
SPLITS = ("train", "eval")
#: per split, as SQL over a `problem_rounds` row `pr`: which rows have a state, and its code
#: (2 solved, 1 hint-only, 0 unsolved)
SPLIT_STATE_SQL = {
    "train": ("pr.direct > 0", "CASE WHEN pr.direct_accepted > 0 THEN 2 WHEN pr.rationalized_accepted > 0 THEN 1 "
                               "ELSE 0 END"),
    "eval": ("pr.eval > 0", "CASE WHEN pr.eval_correct > 0 THEN 2 ELSE 0 END"),
}


def state_of(counts: Mapping[str, int] | ProblemRound) -> str | None:
    """The state of one problem in one round from its counts; None when it has none."""
    get = counts.get if isinstance(counts, Mapping) else lambda key, default=0: getattr(counts, key)
    if get("direct", 0) > 0:
        if get("direct_accepted", 0) > 0:
            return "solved"
        return "hint-only" if get("rationalized_accepted", 0) > 0 else "unsolved"
    if get("eval", 0) > 0:
        return "solved" if get("eval_correct", 0) > 0 else "unsolved"
    return None


def counts_dict(row: ProblemRound) -> dict[str, int]:
    return {key: getattr(row, key) for key in COUNTS}


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise StoreError(f"unknown split {split!r}; use --split train or --split eval")


def rounds_between(session: Session, run: Run, first: int | None, last: int | None) -> list[tuple[int, int]]:
    """(round id, round index) of the run's rounds in [first, last] (either end open), in order."""
    if first is not None and last is not None and first > last:
        raise StoreError(f"--from {first} is after --to {last}; give --from <= --to")
    query = select(Round.id, Round.index).where(Round.run_id == run.id).order_by(Round.index)
    if first is not None:
        query = query.where(Round.index >= first)
    if last is not None:
        query = query.where(Round.index <= last)
    return [(rid, index) for rid, index in session.execute(query)]


def problem_dict(problem: Problem) -> dict[str, Any]:
    return {"id": problem.id, "dataset": problem.dataset, "split": problem.split,
            "external_id": problem.external_id, "question": problem.question, "gold": problem.gold,
            "metadata": problem.meta}


def eval_groups(metadata: Mapping[str, Any] | None) -> list[str]:
    """`key=value` for each scalar field of a problem's metadata: its eval groups (digits=3, subject=algebra)."""
    return [f"{key}={value}" for key, value in sorted((metadata or {}).items())
            if isinstance(value, (str, int, float, bool))]


def group_sort_key(group: str) -> tuple[str, float, str]:
    """digits=2 before digits=10: numbers by value, the rest by name."""
    key, _, value = group.partition("=")
    try:
        return (key, float(value), "")
    except ValueError:
        return (key, float("inf"), value)
