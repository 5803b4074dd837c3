"""`star db check`, who is running what: run leases and schedule firings, as of the scope's `now`.

A run says `running` only while a live driver holds its lease (db/leases.py:
taking the lease and setting the status are one transaction, and so are the
final status and the release); a firing says `running` only while its process
renews its lease (db/schedules.py). A dead driver or scheduler leaves these
rows behind until someone takes the run over or reaps the firing: that is
what these checks report.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from db.check_rows import CheckScope, Violation, capped, first, plural, violation
from db.models import Firing, Run, RunLease, Schedule


def lease_timeout(config: Any, default: float) -> float:
    """The run's `lease.timeout_s` as its last start stored it, else `default` (star's default)."""
    lease = config.get("lease") if isinstance(config, dict) else None
    value = lease.get("timeout_s") if isinstance(lease, dict) else None
    return float(value) if isinstance(value, (int, float)) and value > 0 else default


def stuck_runs(session: Session, scope: CheckScope) -> list[Violation]:
    """A run that says `running` has a driver holding its lease, and that driver's heartbeat is
    younger than the run's lease timeout."""
    query = (
        select(Run, RunLease).join(RunLease, RunLease.run_id == Run.id, isouter=True)
        .where(Run.status == "running", Run.id.in_(scope.run_ids) if not scope.whole_store else true())
        .order_by(Run.name)
    )
    total, rows = first(_lease_problems(session.execute(query).all(), scope), scope.limit)
    return violation("run_leases", f"{plural(total, 'run')} marked running without a live driver "
                     "(`star run --resume RUN --force` takes one over)", total, rows)


def _lease_problems(rows: list[Any], scope: CheckScope) -> Iterator[dict[str, Any]]:
    for run, lease in rows:
        if lease is None:
            yield {"run": run.name, "issue": "no driver holds its lease"}
            continue
        timeout = lease_timeout(run.config, scope.lease_timeout_s)
        if lease.heartbeat_at < scope.now - timedelta(seconds=timeout):
            age = (scope.now - lease.heartbeat_at).total_seconds()
            yield {"run": run.name, "issue": f"its driver's last heartbeat is {age:.0f} s old "
                                               f"(lease timeout {timeout:g} s)",
                   "host": lease.host, "pid": lease.pid, "job_id": lease.job_id,
                   "heartbeat_at": lease.heartbeat_at.isoformat()}


def stuck_firings(session: Session, scope: CheckScope) -> list[Violation]:
    """A firing that says `running` holds a lease (an owner and an expiry) that has not expired."""
    query = (
        select(Firing.id.label("firing"), Schedule.name.label("schedule"), Firing.run_name.label("run"),
               Firing.slot, Firing.attempts, Firing.lease_owner, Firing.lease_expires_at, Firing.started_at)
        .join(Schedule, Schedule.id == Firing.schedule_id)
        .where(Firing.status == "running",
               or_(Firing.lease_owner.is_(None), Firing.lease_expires_at.is_(None),
                   Firing.lease_expires_at < scope.now),
               true() if scope.whole_store else Firing.run_name.in_(scope.run_names))
        .order_by(Firing.id)
    )
    total, rows = capped(session, query, scope.limit)
    return violation("firings", f"{plural(total, 'firing')} running without a live lease (the next "
                     "`star schedule tick` or `star scheduler` marks them failed: lost)", total, rows)
