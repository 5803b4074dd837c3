"""`star db check [RUN]`: an fsck for the store, proving the invariants the loop promises.

Each invariant is a `Check`: a name, the promise in words, and a function of
(session, scope) that returns what breaks it as `Violation`s with the rows
involved (capped at the scope's limit). `STORE_CHECKS` are the ones SQL can
answer; star adds the one that needs the checkpoint storage
(star/report/store_check.py). docs/cluster.md ("How to prove nothing was
lost") explains each one and what to do about it.

Only reads: like all of db/, nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.check_attempts import duplicate_attempts, hinted_training_prompts, misfiled_attempts, unearned_acceptances
from db.check_leases import stuck_firings, stuck_runs
from db.check_rounds import flip_snapshots, recorded_checkpoints, round_counts, round_evaluations, round_models
from db.check_rows import Check, CheckScope, Violation, attempts_in_scope, rounds_in_scope
from db.check_samples import missing_samples
from db.models import Attempt, Round, Run
from db.store import get_run

__all__ = ["STORE_CHECKS", "Check", "CheckReport", "CheckScope", "Violation", "check_store", "make_scope",
           "recorded_checkpoints"]

STORE_CHECKS: tuple[Check, ...] = (
    Check("attempt_keys", "at most one attempt per (run, round, problem, kind, sample)", duplicate_attempts),
    Check("attempt_runs", "an attempt's run is its round's run", misfiled_attempts),
    Check("accepted_correct", "every accepted attempt is correct and not refused (and steps-ok where the "
          "run's `accept` is answer_and_steps); only correct attempts are refused", unearned_acceptances),
    Check("training_prompts", "no hint in a stored training prompt", hinted_training_prompts),
    Check("round_samples", "a done round stored every sample it asked for", missing_samples),
    Check("round_counts", "a done round's counts match its stored attempts", round_counts),
    Check("round_models", "a done round that trained recorded its checkpoint and ended on it", round_models),
    Check("round_evaluations", "a done round stored its held-out answers and accuracy", round_evaluations),
    Check("flip_snapshots", "a run's kept flips agree with its problem_rounds", flip_snapshots),
    Check("run_leases", "a running run has a driver with a live lease", stuck_runs),
    Check("firings", "a running firing holds a live lease", stuck_firings),
)


@dataclass(frozen=True)
class CheckReport:
    """What `check_store` looked at and what it found."""

    checks: tuple[Check, ...]
    violations: list[Violation]
    runs: int
    rounds: int
    done_rounds: int
    attempts: int

    @property
    def clean(self) -> bool:
        return not self.violations


def make_scope(session: Session, run: str | None, *, now: datetime, limit: int, lease_timeout_s: float) -> CheckScope:
    """The scope of a check: one run by name (StoreError if unknown) or, with None, the whole store."""
    runs = (get_run(session, run),) if run is not None else tuple(session.scalars(select(Run).order_by(Run.name)))
    aware = now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)
    return CheckScope(runs=runs, whole_store=run is None, now=aware.astimezone(timezone.utc), limit=limit,
                      lease_timeout_s=lease_timeout_s)


def check_store(session: Session, scope: CheckScope, extra: Sequence[Check] = ()) -> CheckReport:
    """Run every check of `STORE_CHECKS` and then `extra`, in order; each reads, none writes."""
    checks = (*STORE_CHECKS, *extra)
    violations = [found for check in checks for found in check.find(session, scope)]
    rounds = select(Round.status).where(rounds_in_scope(scope)).subquery()
    n_rounds, n_done = session.execute(
        select(func.count(), func.count().filter(rounds.c.status == "done")).select_from(rounds)).one()
    n_attempts = session.scalar(select(func.count()).select_from(Attempt).where(attempts_in_scope(scope)))
    return CheckReport(checks=checks, violations=violations, runs=len(scope.runs), rounds=int(n_rounds or 0),
                       done_rounds=int(n_done or 0), attempts=int(n_attempts or 0))
