"""How much a round explored, and what it refused: counts kept with the round, shares derived.

B-STaR (Zeng et al. 2024) found that self-improvement stalls as exploration
decays: fewer problems with any correct sample, fewer distinct correct
rationales, and pass@K closing on pass@1. These counts let a user watch that:

| count | what it counts, in the round |
|---|---|
| `pool_problems` | training problems with direct samples |
| `pool_solved_any` / `pool_solved_all` | ... with at least one / every direct sample right |
| `pool_correct_paths` | distinct reasoning paths (`attempts.path_key`) among right direct samples, summed over problems |
| `new_paths` | (problem, path) pairs right in this round (direct or rationalized) and accepted in no earlier round |
| `heldout_samples` / `heldout_samples_right` | sampled held-out answers (maj@k / pass@k), and the right ones |
| `heldout_sampled` / `heldout_sampled_solved` | held-out problems with samples / with a right one |
| `refused_<reason>` | right attempts not accepted, by `attempts.refusal` (wrong_steps, no_work, answer_first) |
| `heldout_greedy`, `heldout_greedy_steps` | greedy held-out answers, and those that write out any checkable step, right or wrong (counted by the loop, which knows the task: star/loop/evaluate.py) |
| `heldout_right`, `heldout_right_work` | right greedy held-out answers, and those that do the work by the task's rule |

`exploration(counts)` turns them into the shares the round table, the report
and the tracker show: solved by at least one of K, by all K, by none; distinct
correct paths per solved problem; and pass@K - pass@1 on the held-out samples
already taken (pass@1 estimated as the mean per-sample accuracy); the share of
greedy held-out answers that write out any step, and of right ones that do
the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from db.models import Attempt, ProblemRound, Round

EXPLORATION_COUNTS = ("pool_problems", "pool_solved_any", "pool_solved_all", "pool_correct_paths", "new_paths",
                      "heldout_samples", "heldout_samples_right", "heldout_sampled", "heldout_sampled_solved")


def exploration_counts(session: Session, rnd: Round) -> dict[str, int]:
    """The round's exploration and refusal counts (see the module docstring), read from its attempts."""
    return {**_pool_counts(session, rnd), "pool_correct_paths": _correct_paths(session, rnd),
            "new_paths": _new_paths(session, rnd), **_refusals(session, rnd)}


def _pool_counts(session: Session, rnd: Round) -> dict[str, int]:
    pr = ProblemRound
    row = session.execute(select(
        func.count().filter(pr.direct > 0),
        func.count().filter(pr.direct_correct > 0),
        func.count().filter(and_(pr.direct > 0, pr.direct_correct == pr.direct)),
        func.coalesce(func.sum(pr.eval_sample), 0),
        func.coalesce(func.sum(pr.eval_sample_correct), 0),
        func.count().filter(pr.eval_sample > 0),
        func.count().filter(pr.eval_sample_correct > 0),
    ).where(pr.round_id == rnd.id)).one()
    names = ("pool_problems", "pool_solved_any", "pool_solved_all", "heldout_samples", "heldout_samples_right",
             "heldout_sampled", "heldout_sampled_solved")
    return {name: int(value or 0) for name, value in zip(names, row)}


def _correct_paths(session: Session, rnd: Round) -> int:
    per_problem = (select(Attempt.problem_id, func.count(func.distinct(Attempt.path_key)).label("paths"))
                   .where(Attempt.round_id == rnd.id, Attempt.kind == "direct", Attempt.correct.is_(True))
                   .group_by(Attempt.problem_id).subquery())
    return int(session.scalar(select(func.coalesce(func.sum(per_problem.c.paths), 0))) or 0)


def _new_paths(session: Session, rnd: Round) -> int:
    earlier = aliased(Attempt)
    earlier_rounds = select(Round.id).where(Round.run_id == rnd.run_id, Round.index < rnd.index)
    seen_before = exists().where(
        earlier.problem_id == Attempt.problem_id, earlier.round_id.in_(earlier_rounds),
        earlier.path_key == Attempt.path_key, earlier.accepted.is_(True))
    pairs = (select(Attempt.problem_id, Attempt.path_key)
             .where(Attempt.round_id == rnd.id, Attempt.kind.in_(("direct", "rationalized")),
                    Attempt.correct.is_(True), Attempt.path_key.is_not(None), ~seen_before)
             .distinct().subquery())
    return int(session.scalar(select(func.count()).select_from(pairs)) or 0)


def _refusals(session: Session, rnd: Round) -> dict[str, int]:
    rows = session.execute(select(Attempt.refusal, func.count())
                           .where(Attempt.round_id == rnd.id, Attempt.refusal.is_not(None))
                           .group_by(Attempt.refusal))
    return {f"refused_{reason}": int(n) for reason, n in rows}


def _share(part: Any, whole: Any) -> float | None:
    return part / whole if isinstance(part, int) and isinstance(whole, int) and whole > 0 else None


def exploration(counts: Mapping[str, Any]) -> dict[str, float | None]:
    """Shares from a round's counts: None where the round has none of what they divide by."""
    problems, solved = counts.get("pool_problems"), counts.get("pool_solved_any")
    pass_1 = _share(counts.get("heldout_samples_right"), counts.get("heldout_samples"))
    pass_k = _share(counts.get("heldout_sampled_solved"), counts.get("heldout_sampled"))
    return {
        "solved_any": _share(solved, problems),
        "solved_all": _share(counts.get("pool_solved_all"), problems),
        "solved_none": None if _share(solved, problems) is None else 1 - solved / problems,
        "paths_per_solved": _share(counts.get("pool_correct_paths"), solved),
        "heldout_pass_k_minus_pass_1": None if pass_1 is None or pass_k is None else pass_k - pass_1,
        "heldout_with_steps": _share(counts.get("heldout_greedy_steps"), counts.get("heldout_greedy")),
        "heldout_right_shows_work": _share(counts.get("heldout_right_work"), counts.get("heldout_right")),
    }


def refused(counts: Mapping[str, Any]) -> int:
    """Right attempts the round did not accept, whatever the reason."""
    return sum(int(value) for key, value in counts.items() if key.startswith("refused_"))

