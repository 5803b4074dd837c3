"""`star db check`, finished rounds: their counts, their checkpoint rows, their evaluations.

A round the loop marked `done` promises (star/loop/rounds.py): its recorded
counts are what its stored attempts say, a round that trained has its policy
checkpoint recorded (and ended on it), and its held-out evaluation is stored,
answers and accuracy. Whether the checkpoint itself is in the storage needs
star/storage, so db/ only lists the recorded checkpoints (`recorded_checkpoints`)
and star/report/store_check.py asks the storage.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.orm import Session

from db.check_rows import CheckScope, Violation, first, plural, rounds_in_scope, violation
from db.flips import snapshot_differences
from db.models import Attempt, Evaluation, Model, Round, Run

#: checker verdicts that are check errors (star/checker/verdict.py CHECK_ERRORS); rounds count them
CHECK_ERROR_STATUSES = ("timeout", "crashed")
#: how far a stored accuracy may be from the stored answers' share of correct ones (float rounding)
ACCURACY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class DoneRound:
    """A finished round with what its stored attempts say about it."""

    row: Round
    run: str
    pool: int  # problems with a direct attempt: the training pool
    accepted_direct: int  # problems with an accepted direct attempt
    accepted_rationalized: int
    check_errors: int
    eval_answers: int  # greedy held-out answers stored
    eval_correct: int

    def where(self) -> dict[str, Any]:
        return {"run": self.run, "round": self.row.index}


def _done(scope: CheckScope) -> Any:
    """The ids of the done rounds in scope, as a subquery (no long IN lists on a big store)."""
    return select(Round.id).where(rounds_in_scope(scope), Round.status == "done")


def done_round_rows(session: Session, scope: CheckScope) -> list[tuple[Round, str]]:
    """(round, run name) of every round marked done in scope, by run and index."""
    query = (select(Round, Run.name).join(Run, Run.id == Round.run_id)
             .where(Round.id.in_(_done(scope))).order_by(Run.name, Round.index))
    return [(rnd, name) for rnd, name in session.execute(query)]


def done_rounds(session: Session, scope: CheckScope) -> list[DoneRound]:
    """Every round marked done in scope, with per-round tallies of its attempts (one grouped scan)."""
    rounds = done_round_rows(session, scope)
    if not rounds:
        return []
    kind, accepted = Attempt.kind, Attempt.accepted.is_(True)

    def problems_where(condition: Any) -> Any:
        return func.count(distinct(case((condition, Attempt.problem_id))))

    def rows_where(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    tallies = {
        round_id: rest for round_id, *rest in session.execute(
            select(Attempt.round_id, problems_where(kind == "direct"),
                   problems_where(and_(kind == "direct", accepted)),
                   problems_where(and_(kind == "rationalized", accepted)),
                   rows_where(Attempt.status.in_(CHECK_ERROR_STATUSES)), rows_where(kind == "eval"),
                   rows_where(and_(kind == "eval", Attempt.correct.is_(True))))
            .where(Attempt.round_id.in_(_done(scope))).group_by(Attempt.round_id))
    }
    return [DoneRound(rnd, name, *(int(n or 0) for n in tallies.get(rnd.id, (0,) * 6))) for rnd, name in rounds]


def round_counts(session: Session, scope: CheckScope) -> list[Violation]:
    """A done round's recorded counts match its attempts: attempted = the training pool (problems
    with a direct attempt), accepted_direct / accepted_rationalized = problems with an accepted
    attempt of that kind, check_errors = attempts whose check still timed out or crashed."""
    total, rows = first((row for rnd in done_rounds(session, scope) for row in _count_mismatches(rnd)),
                        scope.limit)
    return violation("round_counts", f"{plural(total, 'count')} of done rounds disagree with the stored "
                     "attempts (recorded: the round's row; stored: recomputed from attempts)", total, rows)


def _count_mismatches(rnd: DoneRound) -> Iterator[dict[str, Any]]:
    row = rnd.row
    if row.index >= 1:  # round 0 only evaluates the starting model
        pairs = (("attempted", row.attempted, rnd.pool), ("accepted_direct", row.accepted_direct, rnd.accepted_direct),
                 ("accepted_rationalized", row.accepted_rationalized, rnd.accepted_rationalized))
        for name, recorded, stored in pairs:
            if recorded != stored:
                yield {**rnd.where(), "count": name, "recorded": recorded, "stored": stored}
    recorded_errors = (row.extra_counts or {}).get("check_errors")
    if recorded_errors is not None and recorded_errors != rnd.check_errors:  # absent in runs older than the count
        yield {**rnd.where(), "count": "check_errors", "recorded": recorded_errors, "stored": rnd.check_errors}


def round_models(session: Session, scope: CheckScope) -> list[Violation]:
    """A done round >= 1 that trained (train_examples > 0) has its policy checkpoint row, ended on
    it (model_out = its path) with the same examples and steps; one that did not train kept its
    model; each round starts from the previous round's model."""
    rounds = [(rnd, name) for rnd, name in done_round_rows(session, scope) if rnd.index >= 1]
    policies: dict[int, list[Model]] = {}
    for model in session.scalars(select(Model).where(Model.kind == "policy", Model.round_id.in_(_done(scope)))):
        policies.setdefault(model.round_id, []).append(model)
    previous = _previous_outputs(session, scope)
    problems = (row for rnd, name in rounds for row in _model_problems(rnd, name, policies.get(rnd.id, []), previous))
    total, rows = first(problems, scope.limit)
    return violation("round_models", f"{plural(total, 'issue')} with the checkpoints of done rounds", total, rows)


def _previous_outputs(session: Session, scope: CheckScope) -> dict[tuple[int, int], str | None]:
    """(run id, round index) -> model_out, for every round in scope."""
    query = select(Round.run_id, Round.index, Round.model_out).where(rounds_in_scope(scope))
    return {(run_id, index): out for run_id, index, out in session.execute(query)}


def _model_problems(row: Round, run: str, models: list[Model], previous: dict[tuple[int, int], str | None]
                    ) -> Iterator[dict[str, Any]]:
    where = {"run": run, "round": row.index}
    before = previous.get((row.run_id, row.index - 1))
    if before is not None and row.model_in != before:
        yield {**where, "issue": "model_in is not the previous round's model_out",
               "model_in": row.model_in, "previous_model_out": before}
    if row.train_examples is None:
        yield {**where, "issue": "done, but train_examples was never recorded"}
        return
    if len(models) > 1:
        yield {**where, "issue": f"{len(models)} policy checkpoints recorded", "paths": [m.path for m in models]}
    if row.train_examples == 0:
        if row.model_out != row.model_in:
            yield {**where, "issue": "trained on nothing, yet model_out is not model_in",
                   "model_in": row.model_in, "model_out": row.model_out}
        return
    if not models:
        yield {**where, "issue": "trained, but no checkpoint is recorded", "model_out": row.model_out,
               "train_examples": row.train_examples}
        return
    model = models[0]
    if model.path != row.model_out:
        yield {**where, "issue": "model_out is not the recorded checkpoint", "model_out": row.model_out,
               "path": model.path}
    if (model.train_examples, model.steps) != (row.train_examples, row.train_steps):
        yield {**where, "issue": "the checkpoint's examples/steps are not the round's",
               "checkpoint": [model.train_examples, model.steps], "counts": [row.train_examples, row.train_steps]}


def round_evaluations(session: Session, scope: CheckScope) -> list[Violation]:
    """A done round (round 0 too) stored its greedy held-out answers and its `eval` accuracy,
    and the accuracy is the share of those answers that are correct."""
    rounds = done_rounds(session, scope)
    accuracy = dict(session.execute(
        select(Evaluation.round_id, Evaluation.value)
        .where(Evaluation.round_id.in_(_done(scope)), Evaluation.split == "eval",
               Evaluation.metric == "accuracy")).all())
    total, rows = first((row for rnd in rounds for row in _evaluation_problems(rnd, accuracy.get(rnd.row.id))),
                        scope.limit)
    return violation("round_evaluations", f"{plural(total, 'done round')} whose held-out evaluation is "
                     "missing or wrong", total, rows)


def _evaluation_problems(rnd: DoneRound, accuracy: float | None) -> Iterator[dict[str, Any]]:
    if rnd.eval_answers == 0:
        yield {**rnd.where(), "issue": "no held-out answers (kind eval) stored"}
    elif accuracy is None:
        yield {**rnd.where(), "issue": "no eval/accuracy evaluation row", "answers": rnd.eval_answers}
    elif abs(accuracy - rnd.eval_correct / rnd.eval_answers) > ACCURACY_TOLERANCE:
        yield {**rnd.where(), "issue": "eval/accuracy is not the share of correct held-out answers",
               "accuracy": accuracy, "correct": rnd.eval_correct, "answers": rnd.eval_answers}


def recorded_checkpoints(session: Session, scope: CheckScope) -> list[dict[str, Any]]:
    """{run, round, path} of the policy checkpoint of every done round in scope (for the storage check)."""
    query = (
        select(Run.name.label("run"), Round.index.label("round"), Model.path.label("path"))
        .select_from(Model).join(Round, Round.id == Model.round_id).join(Run, Run.id == Round.run_id)
        .where(rounds_in_scope(scope), Round.status == "done", Model.kind == "policy")
        .order_by(Run.name, Round.index)
    )
    return [dict(row) for row in session.execute(query).mappings()]


def flip_snapshots(session: Session, scope: CheckScope) -> list[Violation]:
    """A run's kept flips (flip_spans, taken when its last round finished) agree with problem_rounds."""
    total, rows = first((row for run in scope.runs for row in snapshot_differences(session, run)), scope.limit)
    return violation("flip_snapshots", f"{plural(total, 'row')} of a run's kept flips disagree with its "
                     "problem_rounds (a done round's attempts changed after it finished); `star flips` of the "
                     "whole run shows them until the next round ends", total, rows)
