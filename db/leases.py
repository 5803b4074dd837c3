"""One driver per run: the run lease.

A driver holds its run through one `run_leases` row (primary key run_id) and
refreshes `heartbeat_at` while it works. Taking the lease is atomic on both
backends without explicit locks:

- a new lease is an INSERT ... ON CONFLICT DO NOTHING on the primary key, so of
  two drivers racing for a free run exactly one inserts the row;
- a lease whose heartbeat is older than the timeout (its driver crashed or was
  killed) is taken over by an UPDATE whose WHERE clause re-checks the stale
  heartbeat, so of two drivers racing for a stale lease exactly one changes the
  row (PostgreSQL re-evaluates the WHERE on the row the winner committed;
  SQLite serializes writers).

Every function takes the session first and never commits; `now` is passed in,
so tests move time instead of sleeping.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.errors import StoreError
from db.models import Run, RunLease


def _token() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Holder:
    """Who holds (or wants) a lease: a driver process, maybe inside a Ray job."""

    host: str
    pid: int
    job_id: str | None = None
    token: str = field(default_factory=_token)

    def describe(self) -> str:
        who = f"pid {self.pid} on {self.host}"
        return f"{who} (Ray job {self.job_id})" if self.job_id else who


def this_process(job_id: str | None = None) -> Holder:
    return Holder(host=socket.gethostname(), pid=os.getpid(), job_id=job_id)


@dataclass(frozen=True)
class Lease:
    """A lease this process holds."""

    run_id: int
    run_name: str
    holder: Holder
    acquired_at: datetime
    took_over: Holder | None = None  # the stale holder it replaced, if any
    #: why that holder's lease could be taken (its heartbeat went stale, forced, or its process is gone)
    reason: str | None = None


@dataclass(frozen=True)
class LeaseInfo:
    """The stored lease of a run, whoever holds it."""

    holder: Holder
    acquired_at: datetime
    heartbeat_at: datetime


class LeaseHeld(StoreError):
    """Another live driver holds the run."""

    def __init__(self, run_name: str, info: LeaseInfo, *, now: datetime, timeout_s: float) -> None:
        self.info = info
        age = max(0.0, (now - info.heartbeat_at).total_seconds())
        left = max(0.0, timeout_s - age)
        super().__init__(
            f"run {run_name!r} is already being run by {info.holder.describe()} since "
            f"{info.acquired_at:%Y-%m-%d %H:%M:%S} UTC (last heartbeat {age:.0f} s ago); "
            f"wait for it to finish or stop it; if that driver is dead, retry in {left:.0f} s "
            f"(a lease is free once its heartbeat is {timeout_s:.0f} s old) or take it over now "
            f"with `star run --resume {run_name} --force`"
        )


def lease_info(session: Session, run: Run) -> LeaseInfo | None:
    row = session.execute(
        select(RunLease.host, RunLease.pid, RunLease.job_id, RunLease.token, RunLease.acquired_at,
               RunLease.heartbeat_at).where(RunLease.run_id == run.id)
    ).one_or_none()
    if row is None:
        return None
    host, pid, job_id, token, acquired_at, heartbeat_at = row
    return LeaseInfo(Holder(host, pid, job_id, token), acquired_at, heartbeat_at)


def acquire_lease(
    session: Session, run: Run, holder: Holder, *, now: datetime, timeout_s: float, force: bool = False
) -> Lease:
    """Take `run` for `holder`, or raise LeaseHeld naming the live holder.

    A free run is taken; a lease whose heartbeat is older than `timeout_s` is
    taken over; `force` takes over any lease (the old driver notices at its next
    heartbeat and stops).
    """
    values = {"token": holder.token, "host": holder.host, "pid": holder.pid, "job_id": holder.job_id,
              "acquired_at": now, "heartbeat_at": now}
    # Two rounds: the holder may release between our INSERT and our UPDATE.
    for _ in range(2):
        if _insert_new(session, run.id, values):
            return Lease(run.id, run.name, holder, now)
        previous = lease_info(session, run)
        if previous is None:
            continue
        condition = RunLease.run_id == run.id
        if not force:
            condition = condition & (RunLease.heartbeat_at < now - timedelta(seconds=timeout_s))
        else:
            condition = condition & (RunLease.token == previous.holder.token)
        taken = session.execute(update(RunLease).where(condition).values(**values))
        if taken.rowcount == 1:
            return Lease(run.id, run.name, holder, now, took_over=previous.holder)
        current = lease_info(session, run)
        if current is not None:
            raise LeaseHeld(run.name, current, now=now, timeout_s=timeout_s)
    raise StoreError(f"could not take the lease of run {run.name!r}: other drivers keep taking it; retry")


def take_over_dead(session: Session, run: Run, holder: Holder, dead: LeaseInfo, *, now: datetime,
                   reason: str) -> Lease | None:
    """Take the lease from `dead`, a holder known to be gone (`reason`) though its heartbeat is fresh;
    None when the lease changed hands meanwhile (then it belongs to a driver nobody declared dead)."""
    values = {"token": holder.token, "host": holder.host, "pid": holder.pid, "job_id": holder.job_id,
              "acquired_at": now, "heartbeat_at": now}
    taken = session.execute(update(RunLease).where(RunLease.run_id == run.id,
                                                   RunLease.token == dead.holder.token).values(**values))
    if taken.rowcount != 1:
        return None
    return Lease(run.id, run.name, holder, now, took_over=dead.holder, reason=reason)


def _insert_new(session: Session, run_id: int, values: dict) -> bool:
    from db.upsert import dialect_insert  # the dialect's INSERT ... ON CONFLICT

    stmt = dialect_insert(session, RunLease.__table__).values(run_id=run_id, **values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["run_id"]).returning(RunLease.run_id)
    return session.execute(stmt).first() is not None


def heartbeat(session: Session, lease: Lease, *, now: datetime) -> bool:
    """Refresh the lease; False when it is no longer ours (taken over or released)."""
    result = session.execute(
        update(RunLease)
        .where(RunLease.run_id == lease.run_id, RunLease.token == lease.holder.token)
        .values(heartbeat_at=now)
    )
    return result.rowcount == 1


def release_lease(session: Session, lease: Lease) -> bool:
    """Give the run back; False when the lease was no longer ours."""
    result = session.execute(
        delete(RunLease).where(RunLease.run_id == lease.run_id, RunLease.token == lease.holder.token)
    )
    return result.rowcount == 1
