"""Two runs side by side: `star compare RUN_A RUN_B` (another temperature, another acceptance rule...).

Per round index, the metrics `star rounds` prints for each run; and on the
problems both runs attempted (problems are shared by dataset, split and id),
which ones each run solves in its last round (or `--round-a` / `--round-b`)
that the other does not. States are db/outcomes.py's: held-out problems are
solved by a right greedy answer, training problems by an accepted direct one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.errors import StoreError
from db.models import Problem, ProblemRound, Round, Run
from db.outcomes import check_split, state_of
from db.store import get_round, get_run
from db.summaries import round_summaries

#: what `star compare` shows per round and run (keys of `star rounds --json`)
METRICS = ("eval_accuracy", "eval_maj_at_k", "eval_pass_at_k", "attempted", "accepted_direct",
           "accepted_rationalized", "train_examples")
MAX_LIMIT = 1_000


def compare_runs(session: Session, run_a: str, run_b: str, *, split: str = "eval", round_a: int | None = None,
                 round_b: int | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Per-round metrics of both runs, and which problems one solves that the other does not."""
    check_split(split)
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise StoreError(f"--limit must be 1..{MAX_LIMIT} and --offset at least 0, got {limit} and {offset}")
    a, b = get_run(session, run_a), get_run(session, run_b)
    at_a, solved_a = _solved(session, a, split, round_a)
    at_b, solved_b = _solved(session, b, split, round_b)
    shared = solved_a.keys() & solved_b.keys()
    only_a = sorted(p for p in shared if solved_a[p][1] and not solved_b[p][1])
    only_b = sorted(p for p in shared if solved_b[p][1] and not solved_a[p][1])

    def listed(keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return [{"dataset": d, "problem": ext, "problem_id": solved_a[(d, ext)][0]}
                for d, ext in keys[offset:offset + limit]]

    return {
        "a": a.name, "b": b.name, "split": split, "rounds": _metrics(session, a, b),
        "problems": {
            "round_a": at_a, "round_b": at_b, "shared": len(shared),
            "only_in_a": len(solved_a.keys() - shared), "only_in_b": len(solved_b.keys() - shared),
            "both_solve": sum(1 for p in shared if solved_a[p][1] and solved_b[p][1]),
            "neither_solves": sum(1 for p in shared if not solved_a[p][1] and not solved_b[p][1]),
            "a_solves_b_not": len(only_a), "b_solves_a_not": len(only_b),
            "offset": offset, "limit": limit,
            "a_not_b": listed(only_a), "b_not_a": listed(only_b),
        },
    }


def _metrics(session: Session, a: Run, b: Run) -> list[dict[str, Any]]:
    by_a = {s["round"]: s for s in round_summaries(session, a)}
    by_b = {s["round"]: s for s in round_summaries(session, b)}

    def pick(summary: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if summary is None else {key: summary.get(key) for key in METRICS}

    return [{"round": r, "a": pick(by_a.get(r)), "b": pick(by_b.get(r))} for r in sorted(by_a.keys() | by_b.keys())]


def _solved(session: Session, run: Run, split: str, index: int | None) -> tuple[int | None, dict]:
    """The round compared and {(dataset, external id): (problem id, solved)} of its problems of `split`."""
    observed = (ProblemRound.direct > 0) | (ProblemRound.eval > 0)
    if index is None:
        index = session.scalar(
            select(func.max(Round.index)).join(ProblemRound, ProblemRound.round_id == Round.id)
            .join(Problem, Problem.id == ProblemRound.problem_id)
            .where(Round.run_id == run.id, Problem.split == split, observed))
        if index is None:
            return None, {}
    rnd = get_round(session, run, index)
    query = (select(ProblemRound, Problem.dataset, Problem.external_id)
             .join(Problem, Problem.id == ProblemRound.problem_id)
             .where(ProblemRound.round_id == rnd.id, Problem.split == split, observed))
    return index, {(dataset, ext): (row.problem_id, state_of(row) == "solved")
                   for row, dataset, ext in session.execute(query)}
