"""A run's rounds as `star rounds RUN --json` prints them: counts, metrics, timings, lineage."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.exploration import exploration, refused
from db.ledger import has_token_counts, ledger, token_counts
from db.models import ATTEMPT_KINDS, Attempt, Evaluation, Round, Run
from db.store import ROUND_COUNTS


def round_summaries(session: Session, run: Run, *, stored: bool = True) -> list[dict[str, Any]]:
    """One dict per round (round 0 included), as `star rounds RUN --json` prints them.

    Counts are the ones the loop reported (None until it does); `stored` counts
    the attempt rows actually in the database per kind, which is what to trust
    while a round is still running or after a crash. `stored=False` skips that
    count (it reads every attempt's index entry: seconds at millions) and
    reports `stored` as None, for the web view's run page.
    """
    rounds = list(session.scalars(select(Round).where(Round.run_id == run.id).order_by(Round.index)))
    ids = [r.id for r in rounds]
    metrics: dict[int, dict[str, float]] = {i: {} for i in ids}
    again: dict[int, dict[str, dict[str, float]]] = {i: {} for i in ids}
    counted: dict[int, dict[str, int]] = {i: dict.fromkeys(ATTEMPT_KINDS, 0) for i in ids}
    if ids:
        evals = select(Evaluation.round_id, Evaluation.split, Evaluation.metric, Evaluation.value).where(
            Evaluation.round_id.in_(ids)
        )
        for round_id, split, metric, value in session.execute(evals):
            if split == "eval":
                metrics[round_id][metric] = value
            else:  # a later `star eval` of the round, under its own split name (eval@NAME)
                again[round_id].setdefault(split, {})[metric] = value
    if ids and stored:
        # Filtering on round_id (not run_id) lets both backends answer from the
        # unique (round_id, problem_id, kind, sample_index) index alone.
        counts = (
            select(Attempt.round_id, Attempt.kind, func.count())
            .where(Attempt.round_id.in_(ids))
            .group_by(Attempt.round_id, Attempt.kind)
        )
        for round_id, kind, n in session.execute(counts):
            counted[round_id][kind] = n
    tokens = _tokens_of_older_rounds(session, rounds) if stored else {}
    return [_summary(r, metrics[r.id], counted[r.id] if stored else None, again[r.id], tokens.get(r.id, {}))
            for r in rounds]


def _tokens_of_older_rounds(session: Session, rounds: list[Round]) -> dict[int, dict[str, int]]:
    """Token counts read from the attempts of rounds that do not keep them (running, or finished before
    the loop counted them), so the ledger covers every round; finished rounds keep their own."""
    return token_counts(session, [r.id for r in rounds if not has_token_counts(r.extra_counts)])


# Overall metrics of the test-time strategies (per-group ones carry a "/group" suffix).
_STRATEGIES = {"maj": "eval_maj_at_k", "pass": "eval_pass_at_k", "best_of_n": "eval_best_of_n",
               "weighted_best_of_n": "eval_weighted_best_of_n"}
_STRATEGY_RE = re.compile(r"^(maj|pass|best_of_n|weighted_best_of_n)@(\d+)$")


def strategy_values(metrics: dict[str, float]) -> dict[str, Any]:
    """eval_maj_at_k and eval_pass_at_k (None when the round has none), eval_k, and
    eval_best_of_n / eval_weighted_best_of_n with eval_n when a verifier scored the round."""
    found: dict[str, Any] = {"eval_maj_at_k": None, "eval_pass_at_k": None, "eval_k": None}
    for name, value in sorted(metrics.items()):
        match = _STRATEGY_RE.match(name)
        if match is None:
            continue
        strategy, count = match.group(1), int(match.group(2))
        found[_STRATEGIES[strategy]] = value
        found["eval_k" if strategy in ("maj", "pass") else "eval_n"] = count
    return found


def _summary(rnd: Round, metrics: dict[str, float], stored: dict[str, int] | None,
             again: dict[str, dict[str, float]], tokens: dict[str, int]) -> dict[str, Any]:
    counts = {**{key: getattr(rnd, key) for key in ROUND_COUNTS}, **tokens, **rnd.extra_counts}
    return {
        "round": rnd.index,
        "status": rnd.status,
        "check_errors": 0,  # checks that timed out or crashed twice (the loop stores the count)
        **counts,
        "refused": refused(rnd.extra_counts),
        "exploration": exploration(rnd.extra_counts),
        "ledger": ledger(counts),
        "eval_accuracy": metrics.get("accuracy"),
        **strategy_values(metrics),
        "metrics": dict(sorted(metrics.items())),
        # `star eval` results: split name (eval@NAME) -> metrics
        "evaluations": {split: dict(sorted(values.items())) for split, values in sorted(again.items())},
        "stored": stored,
        "dataset_hash": rnd.dataset_hash,
        "dataset_rows": rnd.dataset_rows,
        "model_in": rnd.model_in,
        "model_out": rnd.model_out,
        "timings": rnd.timings,
        "updated_at": rnd.updated_at.isoformat() if rnd.updated_at else None,
    }
