"""Schedules and their firings: what `star schedule` and `star scheduler` read and write.

Exactly-once firing is a database fact, not process memory: a firing is a row
unique per (schedule, slot), inserted with ON CONFLICT DO NOTHING, and the
process whose INSERT returned the row owns it. Every later change of a running
firing (lease renewal, finish, reaping a lost one, claiming a retry) is a
conditional UPDATE that only one writer can win. As everywhere in db/, the
functions take the session first and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.errors import StoreError
from db.leases import lease_info
from db.models import Firing, Round, Run, Schedule, utcnow
from db.upsert import dialect_insert

DEFAULT_LEASE_TIMEOUT_S = 60.0  # a run's lease.timeout_s when its stored config does not say

# What a firing's `error` says when its process died and its lease ran out.
LOST = "lost: the firing's process stopped renewing its lease (killed or crashed)"


def add_schedule(session: Session, *, name: str, run_name: str, config: dict[str, Any], cron: str,
                 timezone: str, rounds_per_firing: int = 1, address: str | None = None,
                 max_retries: int = 2, retry_backoff_s: int = 300, grace_s: int = 12 * 3600,
                 notify: str | None = None, created_at: datetime | None = None) -> Schedule:
    """Store a new schedule; a taken name, or a run that already has a schedule, is an error."""
    if session.scalar(select(Schedule.id).where(Schedule.name == name)) is not None:
        raise StoreError(f"a schedule named {name!r} exists; pick another name or `star schedule remove {name}`")
    other = session.scalar(select(Schedule.name).where(Schedule.run_name == run_name))
    if other is not None:
        raise StoreError(f"run {run_name!r} is already driven by schedule {other!r}; one schedule per run")
    now = created_at or utcnow()
    schedule = Schedule(name=name, run_name=run_name, config=config, cron=cron, timezone=timezone,
                        rounds_per_firing=rounds_per_firing, address=address, max_retries=max_retries,
                        retry_backoff_s=retry_backoff_s, grace_s=grace_s, notify=notify, paused=False,
                        created_at=now, updated_at=now)
    session.add(schedule)
    session.flush()
    return schedule


def get_schedule(session: Session, name: str) -> Schedule:
    schedule = session.scalars(select(Schedule).where(Schedule.name == name)).one_or_none()
    if schedule is None:
        raise StoreError(f"no schedule named {name!r}; `star schedule list` shows them")
    return schedule


def list_schedules(session: Session) -> list[Schedule]:
    return list(session.scalars(select(Schedule).order_by(Schedule.name)))


def set_paused(session: Session, name: str, paused: bool) -> Schedule:
    schedule = get_schedule(session, name)
    schedule.paused = paused
    schedule.updated_at = utcnow()
    session.flush()
    return schedule


def remove_schedule(session: Session, name: str) -> None:
    """Delete a schedule and its firing history (the run and its rounds stay)."""
    schedule = get_schedule(session, name)
    if running_firings(session, schedule.id):
        raise StoreError(f"schedule {name!r} has a firing running; wait for it or `star schedule pause {name}`")
    session.execute(delete(Firing).where(Firing.schedule_id == schedule.id))
    session.delete(schedule)
    session.flush()


# --- firings -------------------------------------------------------------------


def insert_firing(session: Session, schedule: Schedule, slot: datetime, *, status: str,
                  error: str | None = None, manual: bool = False, owner: str | None = None,
                  lease_expires_at: datetime | None = None, target_round: int | None = None,
                  now: datetime | None = None) -> Firing | None:
    """Insert the firing of `slot`; None when that slot already has one (another scheduler won)."""
    now = now or utcnow()
    running = status == "running"
    row = {"schedule_id": schedule.id, "slot": slot, "manual": manual, "run_name": schedule.run_name,
           "status": status, "attempts": 1 if running else 0, "target_round": target_round, "rounds": [],
           "error": error, "lease_owner": owner, "lease_expires_at": lease_expires_at,
           "started_at": now if running else None, "finished_at": None if running else now,
           "created_at": now}
    table = Firing.__table__
    stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=["schedule_id", "slot"])
    new_id = session.execute(stmt.returning(table.c.id), [row]).scalar()
    return None if new_id is None else session.get(Firing, new_id)


def record_slots(session: Session, schedule: Schedule, slots: Sequence[datetime], *, status: str,
                 error: str, now: datetime | None = None) -> int:
    """Record slots that did not fire (missed / skipped); returns how many were new."""
    return sum(insert_firing(session, schedule, slot, status=status, error=error, now=now) is not None
               for slot in slots)


def latest_cron_slot(session: Session, schedule_id: int) -> datetime | None:
    """The newest cron slot with a firing row (run-now firings are not cron slots)."""
    return session.scalar(select(func.max(Firing.slot)).where(
        Firing.schedule_id == schedule_id, Firing.manual.is_(False)))


def latest_firing(session: Session, schedule_id: int) -> Firing | None:
    query = select(Firing).where(Firing.schedule_id == schedule_id).order_by(Firing.slot.desc()).limit(1)
    return session.scalars(query).first()


def running_firings(session: Session, schedule_id: int) -> list[Firing]:
    query = select(Firing).where(Firing.schedule_id == schedule_id, Firing.status == "running")
    return list(session.scalars(query))


def adopt_orphans(session: Session, *, lease_now: datetime, lease_expires_at: datetime) -> list[Firing]:
    """Extend the lease of expired running firings whose run's driver still holds a live run lease.

    The scheduler that fired them died, but its child (`star run`, or the Ray
    job it submitted) did not: the firing is still running, so it must be
    neither reaped nor retried, or a second driver would start on the same
    slot. Once that driver ends and gives its run lease back, reap_lost
    records how the firing ended.
    """
    adopted = []
    for firing in _expired(session, lease_now):
        if not _driver_alive(session, firing.schedule.run_name, lease_now):
            continue
        result = session.execute(
            update(Firing)
            .where(Firing.id == firing.id, Firing.status == "running", Firing.lease_expires_at < lease_now)
            .values(lease_expires_at=lease_expires_at)
        )
        if result.rowcount == 1:
            adopted.append(firing)
    return adopted


def reap_lost(session: Session, *, now: datetime, lease_now: datetime) -> list[Firing]:
    """Close running firings whose lease expired before `lease_now`: failed (lost), or succeeded when
    their target round got done anyway (an adopted orphan whose driver finished).

    The UPDATE repeats the expiry test, so a firing that renewed its lease in
    the meantime, or that another scheduler reaped first, is left alone.
    """
    reaped = []
    for firing in _expired(session, lease_now):
        finished = firing.target_round is not None and firing.target_round in done_rounds(
            session, firing.schedule.run_name)
        values = ({"status": "succeeded", "error": None, "retry_at": None,
                   "rounds": _rounds_of_orphan(session, firing)} if finished
                  else {"status": "failed", "error": LOST, "retry_at": now})
        result = session.execute(
            update(Firing)
            .where(Firing.id == firing.id, Firing.status == "running", Firing.lease_expires_at < lease_now)
            .values(finished_at=now, lease_owner=None, **values)
        )
        if result.rowcount == 1:
            session.refresh(firing)  # callers read the outcome after the session ends
            reaped.append(firing)
    return reaped


def _expired(session: Session, lease_now: datetime) -> list[Firing]:
    return list(session.scalars(select(Firing).where(Firing.status == "running",
                                                     Firing.lease_expires_at < lease_now)).all())


def _driver_alive(session: Session, run_name: str, now: datetime) -> bool:
    """Whether a driver holds `run_name`'s lease with a heartbeat fresher than the run's lease.timeout_s."""
    run = session.scalars(select(Run).where(Run.name == run_name)).one_or_none()
    info = lease_info(session, run) if run is not None else None
    if info is None:
        return False
    timeout_s = float(((run.config or {}).get("lease") or {}).get("timeout_s", DEFAULT_LEASE_TIMEOUT_S))
    return info.heartbeat_at >= now - timedelta(seconds=timeout_s)  # UtcDateTime: both aware


def claim_retry(session: Session, firing: Firing, *, owner: str, lease_expires_at: datetime,
                now: datetime) -> bool:
    """Take a failed firing back to running for another attempt; False if another scheduler did."""
    result = session.execute(
        update(Firing)
        .where(Firing.id == firing.id, Firing.status == "failed", Firing.attempts == firing.attempts)
        .values(status="running", attempts=firing.attempts + 1, lease_owner=owner,
                lease_expires_at=lease_expires_at, started_at=now, finished_at=None, retry_at=None,
                error=None)
    )
    session.expire(firing)
    return result.rowcount == 1


def renew_lease(session: Session, firing_id: int, *, owner: str, lease_expires_at: datetime) -> bool:
    """Heartbeat: extend the lease; False when the firing is no longer ours (it was reaped)."""
    result = session.execute(
        update(Firing)
        .where(Firing.id == firing_id, Firing.status == "running", Firing.lease_owner == owner)
        .values(lease_expires_at=lease_expires_at)
    )
    return result.rowcount == 1


def set_job_id(session: Session, firing_id: int, job_id: str) -> None:
    session.execute(update(Firing).where(Firing.id == firing_id).values(job_id=job_id))


def finish_firing(session: Session, firing_id: int, *, owner: str, status: str, now: datetime,
                  rounds: Sequence[int] = (), error: str | None = None,
                  retry_at: datetime | None = None) -> bool:
    """Record how a firing we own ended; False when it was reaped as lost meanwhile."""
    firing = session.get(Firing, firing_id)
    if firing is None or firing.status != "running" or firing.lease_owner != owner:
        return False
    result = session.execute(
        update(Firing)
        .where(Firing.id == firing_id, Firing.status == "running", Firing.lease_owner == owner)
        .values(status=status, finished_at=now, error=error, retry_at=retry_at, lease_owner=None,
                lease_expires_at=None, rounds=sorted(set(firing.rounds) | set(rounds)))
    )
    session.expire(firing)
    return result.rowcount == 1


def _rounds_of_orphan(session: Session, firing: Firing) -> list[int]:
    """The rounds an orphaned firing's driver finished: the run's done rounds up to its target that no
    other firing of the schedule recorded (the scheduler that knew which rounds were done before it
    started is gone). A first firing's round 0, the base model's evaluation, is among them, as when
    the firing's own scheduler records it."""
    others = session.scalars(select(Firing.rounds).where(Firing.schedule_id == firing.schedule_id,
                                                         Firing.id != firing.id))
    recorded = {index for rounds in others for index in rounds}
    done = {r for r in done_rounds(session, firing.schedule.run_name) if r <= firing.target_round}
    return sorted((done - recorded) | set(firing.rounds) | {firing.target_round})


def done_rounds(session: Session, run_name: str) -> set[int]:
    """Indexes of the run's finished rounds (none when the run does not exist yet)."""
    query = select(Round.index).join(Run).where(Run.name == run_name, Round.status == "done")
    return set(session.scalars(query))


def firing_history(session: Session, name: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """One dict per firing, newest slot first, as `star schedule history --json` prints them."""
    query = select(Firing, Schedule.name).join(Schedule).order_by(Firing.slot.desc(), Schedule.name)
    if name is not None:
        query = query.where(Schedule.id == get_schedule(session, name).id)
    if limit is not None:
        query = query.limit(limit)
    return [firing_dict(firing, schedule_name) for firing, schedule_name in session.execute(query)]


def firing_dict(firing: Firing, schedule_name: str) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {"schedule": schedule_name, "run": firing.run_name, "slot": iso(firing.slot),
            "status": firing.status, "manual": firing.manual, "attempts": firing.attempts,
            "target_round": firing.target_round, "started_at": iso(firing.started_at),
            "finished_at": iso(firing.finished_at), "rounds": list(firing.rounds), "job_id": firing.job_id,
            "error": firing.error, "retry_at": iso(firing.retry_at)}


def round_accuracy(session: Session, run_name: str, index: int) -> float | None:
    """Held-out accuracy of one round of a run (None when not evaluated)."""
    from db.models import Evaluation

    query = (select(Evaluation.value).join(Round).join(Run)
             .where(Run.name == run_name, Round.index == index, Evaluation.split == "eval",
                    Evaluation.metric == "accuracy"))
    return session.scalar(query)
