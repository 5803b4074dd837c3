"""`star db check`, finished rounds: every sample a round asked for is stored, none missing.

A round asks for n samples of a problem and kind with sample indexes 0..n-1,
and is marked done only once all of them are stored (a phase re-runs what is
missing, star/loop/stored_phase.py). So in a done round each (problem, kind)
holds indexes 0..n-1 with no gap, and where the run's stored config fixes n,
exactly n: K direct samples (`sampling.samples_per_problem`, with uniform
allocation, and in round 1 under frontier allocation too),
`rationalization.samples_per_problem` hinted ones per rationalized problem,
one greedy held-out answer and `evaluation.samples` sampled ones per
held-out problem. Those config fields change results, so a resumed run
cannot change them (star/run/resume.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from db.check_rows import CheckScope, Violation, capped, plural, violation
from db.models import Attempt, Problem, Round, Run


def expected_samples(config: Any) -> tuple[dict[str, int], bool]:
    """(samples per problem the run's stored config fixes, by kind; whether direct samples are
    uniform in every round, not only in round 1). Kinds it does not fix are left out."""
    def section(name: str) -> dict[str, Any]:
        value = config.get(name) if isinstance(config, dict) else None
        return value if isinstance(value, dict) else {}

    fixed = {"eval": 1}
    for kind, (name, field) in {"direct": ("sampling", "samples_per_problem"),
                                "rationalized": ("rationalization", "samples_per_problem"),
                                "eval_sample": ("evaluation", "samples")}.items():
        value = section(name).get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            fixed[kind] = value
    # Configs from before frontier allocation existed have no `allocation`: they were uniform.
    return fixed, section("sampling").get("allocation", "uniform") == "uniform"


def _expected(fixed: dict[str, int], uniform: bool) -> Any:
    """The n a (problem, kind) group of a round must have, as SQL (NULL where nothing fixes it)."""
    whens: list[tuple[ColumnElement[bool], int]] = []
    for kind, n in fixed.items():
        when = Attempt.kind == kind
        if kind == "direct" and not uniform:  # frontier allocation varies per problem after round 1
            when = and_(when, Round.index <= 1)
        whens.append((when, n))
    return case(*whens, else_=None)


def missing_samples(session: Session, scope: CheckScope) -> list[Violation]:
    """Per done round, problem and kind: sample indexes 0..n-1 with no gap, and n as the config sets it."""
    total, rows = 0, []
    for run in scope.runs:
        count, some = capped(session, _gaps(run, *expected_samples(run.config)), scope.limit)
        total += count
        rows += some[: scope.limit - len(rows)]
    return violation("round_samples", f"{plural(total, '(problem, kind) pair')} of done rounds missing samples "
                     "(samples: stored rows; lowest..highest: their indexes; expected: what the config asks)",
                     total, rows)


def _gaps(run: Run, fixed: dict[str, int], uniform: bool) -> Any:
    expected = _expected(fixed, uniform)
    # Distinct indexes: a key stored twice is attempt_keys' finding, not a missing sample.
    lowest, highest = func.min(Attempt.sample_index), func.max(Attempt.sample_index)
    n = func.count(distinct(Attempt.sample_index))
    return (
        select(Run.name.label("run"), Round.index.label("round"), Problem.external_id.label("problem"),
               Attempt.kind.label("kind"), n.label("samples"), lowest.label("lowest"), highest.label("highest"),
               expected.label("expected"))
        .select_from(Attempt)
        .join(Round, Round.id == Attempt.round_id)
        .join(Run, Run.id == Round.run_id)
        .join(Problem, Problem.id == Attempt.problem_id)
        .where(Round.run_id == run.id, Round.status == "done")
        .group_by(Run.name, Round.index, Problem.external_id, Attempt.round_id, Attempt.problem_id, Attempt.kind)
        .having(or_(lowest != 0, highest + 1 != n, n != expected))
        .order_by(Round.index, Problem.external_id, Attempt.kind)
    )
