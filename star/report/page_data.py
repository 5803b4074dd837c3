"""Everything `star report` shows, read from the store in one session.

Nothing here knows the metrics: evaluations are read as the table holds them
(split -> metric name -> round -> value), so metrics added later appear in the
report without a change here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Attempt, Evaluation, Model, Problem, Round, Run
from db.store import get_run
from db.summaries import round_summaries
from star.checker.verdict import CHECK_ERRORS

# Sample categories, in the order the page shows them.
CATEGORIES = ("right", "wrong", "rationalized")
# Check-error attempts listed by name (the per-round counts cover the rest).
MAX_CHECK_ERRORS = 20
# scheme://user:PASSWORD@host
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)")
# Candidates read per category and round, to pick distinct problems from.
_CANDIDATES_PER_SAMPLE = 8


@dataclass(frozen=True)
class Sample:
    """One stored attempt as the page shows it; `prompt` is the training prompt (no hint)."""

    round: int
    category: str
    attempt_id: int
    problem: str
    question: str
    gold: str
    kind: str
    prompt: str
    completion: str
    extracted: str | None
    status: str


@dataclass
class ReportData:
    run: dict[str, Any]
    summaries: list[dict[str, Any]]
    # split -> metric name -> round index -> value
    evaluations: dict[str, dict[str, dict[int, float]]]
    models: list[dict[str, Any]]
    samples: list[Sample] = field(default_factory=list)
    check_errors: list[Sample] = field(default_factory=list)


def ordered_splits(data: ReportData) -> list[str]:
    """The evaluated splits, the held-out `eval` split first."""
    return sorted(data.evaluations, key=lambda split: (split != "eval", split))


def load_report_data(session: Session, run_name: str, *, per_category: int = 3) -> ReportData:
    """The run's rows for the report; StoreError names an unknown run."""
    run = get_run(session, run_name)
    rounds = list(session.scalars(select(Round).where(Round.run_id == run.id).order_by(Round.index)))
    return ReportData(
        run=_run_dict(run),
        summaries=round_summaries(session, run),
        evaluations=_evaluations(session, rounds),
        models=_models(session, run),
        samples=[s for rnd in rounds for s in _round_samples(session, rnd, per_category)],
        check_errors=_check_errors(session, run),
    )


def _run_dict(run: Run) -> dict[str, Any]:
    return {"name": run.name, "status": run.status, "base_model": run.base_model,
            "error": hide_passwords(run.error),
            "config": hide_passwords(run.config), "created_at": run.created_at.isoformat(),
            "updated_at": run.updated_at.isoformat()}


def hide_passwords(value: Any) -> Any:
    """`value` with the password of every URL in it (a PostgreSQL `database`, a tracking URI) as ***.

    A report is made to be passed around; the store's credentials are not.
    """
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1***\3", value)
    if isinstance(value, dict):
        return {k: hide_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hide_passwords(v) for v in value]
    return value


def _evaluations(session: Session, rounds: list[Round]) -> dict[str, dict[str, dict[int, float]]]:
    index = {r.id: r.index for r in rounds}
    out: dict[str, dict[str, dict[int, float]]] = {}
    if not index:
        return out
    query = select(Evaluation.round_id, Evaluation.split, Evaluation.metric, Evaluation.value).where(
        Evaluation.round_id.in_(list(index)))
    for round_id, split, metric, value in session.execute(query):
        out.setdefault(split, {}).setdefault(metric, {})[index[round_id]] = value
    return out


def _models(session: Session, run: Run) -> list[dict[str, Any]]:
    """Lineage rows; `kind` (policy or verifier, added by a later schema) only when the table has it."""
    query = select(Model, Round.index).outerjoin(Round, Model.round_id == Round.id).where(
        Model.run_id == run.id).order_by(Model.id)
    rows = []
    for model, round_index in session.execute(query):
        row = {"round": round_index, "path": model.path, "parent": model.parent, "base": model.base,
               "train_examples": model.train_examples, "steps": model.steps, "metrics": model.metrics,
               "created_at": model.created_at.isoformat()}
        if hasattr(model, "kind"):
            row["kind"] = model.kind
        rows.append(row)
    return rows


def _round_samples(session: Session, rnd: Round, per_category: int) -> list[Sample]:
    """Up to `per_category` right, wrong and rationalized attempts, on distinct problems.

    Rounds that generated nothing (round 0 evaluates only) show their evaluation
    attempts as right and wrong.
    """
    has_direct = session.scalar(select(Attempt.id).where(Attempt.round_id == rnd.id,
                                                         Attempt.kind == "direct").limit(1))
    answer_kind = "direct" if has_direct is not None else "eval"
    wheres = {
        "right": (Attempt.kind == answer_kind, Attempt.correct.is_(True)),
        # A check error says nothing about the answer; the page lists those on their own.
        "wrong": (Attempt.kind == answer_kind, Attempt.correct.is_(False), Attempt.status.not_in(CHECK_ERRORS)),
        "rationalized": (Attempt.kind == "rationalized", Attempt.accepted.is_(True)),
    }
    samples = []
    for category in CATEGORIES:
        query = (select(Attempt, Problem).join(Problem, Attempt.problem_id == Problem.id)
                 .where(Attempt.round_id == rnd.id, *wheres[category])
                 .order_by(Attempt.id).limit(per_category * _CANDIDATES_PER_SAMPLE))
        picked = _distinct_problems(session.execute(query).all(), per_category)
        samples += [_sample(rnd.index, category, a, p) for a, p in picked]
    return samples


def _distinct_problems(rows: list[Any], count: int) -> list[Any]:
    """The first `count` rows with a problem not seen before, then others to fill up."""
    seen: set[int] = set()
    first, rest = [], []
    for row in rows:
        (rest if row[1].id in seen else first).append(row)
        seen.add(row[1].id)
    return (first + rest)[:count]


def _check_errors(session: Session, run: Run) -> list[Sample]:
    query = (select(Attempt, Problem, Round.index).join(Problem, Attempt.problem_id == Problem.id)
             .join(Round, Attempt.round_id == Round.id)
             .where(Attempt.run_id == run.id, Attempt.status.in_(CHECK_ERRORS))
             .order_by(Attempt.id).limit(MAX_CHECK_ERRORS))
    return [_sample(index, "check error", a, p) for a, p, index in session.execute(query)]


def _sample(round_index: int, category: str, attempt: Attempt, problem: Problem) -> Sample:
    return Sample(round=round_index, category=category, attempt_id=attempt.id, problem=problem.external_id,
                  question=problem.question, gold=problem.gold, kind=attempt.kind,
                  prompt=attempt.train_prompt, completion=attempt.completion, extracted=attempt.extracted,
                  status=attempt.status)
