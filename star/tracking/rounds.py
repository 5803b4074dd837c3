"""A finished round's scalars, read back from the store: what every backend logs per round.

Reading the evaluations table (not the loop's return values) means a metric that
any later code stores for the round (maj@k, pass@k, verifier scores ...) is
tracked too, without touching this module.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import db.store as store
from db.exploration import exploration
from db.ledger import ledger
from db.models import Evaluation, Round
from star.tracking.base import Tracker


def round_metrics(session: Session, run_name: str, index: int) -> dict[str, float]:
    """`<split>/<metric>` for every stored evaluation, `counts/<name>`, `exploration/<share>`, `ledger/<figure>`
    (tokens, db/ledger.py) and `timings/<phase>` (seconds)."""
    rnd = store.get_round(session, store.get_run(session, run_name), index)
    evals = session.execute(select(Evaluation.split, Evaluation.metric, Evaluation.value)
                            .where(Evaluation.round_id == rnd.id))
    metrics = {f"{split}/{metric}": float(value) for split, metric, value in evals}
    counts = _counts(rnd)
    for name, count in counts.items():
        metrics[f"counts/{name}"] = float(count)
    for name, value in ledger(counts).items():
        if value is not None:
            metrics[f"ledger/{name}"] = float(value)
    for name, share in exploration(rnd.extra_counts).items():
        if share is not None:
            metrics[f"exploration/{name}"] = float(share)
    for phase, seconds in rnd.timings.items():
        metrics[f"timings/{phase}"] = float(seconds)
    return metrics


def _counts(rnd: Round) -> dict[str, int]:
    counts = {key: getattr(rnd, key) for key in store.ROUND_COUNTS}
    counts.update(rnd.extra_counts)  # check_errors and any count added later
    return {key: value for key, value in counts.items() if value is not None}


def log_round(tracker: Tracker, sessions: sessionmaker[Session], run_name: str, index: int) -> None:
    """Send round `index`'s scalars to the tracker, step = round index."""
    with sessions() as session:
        metrics = round_metrics(session, run_name, index)
    tracker.log_metrics(metrics, step=index)
