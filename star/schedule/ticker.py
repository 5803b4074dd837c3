"""One scheduler pass (`star schedule tick`): decide each schedule's due slot, fire, record.

A tick first reaps firings whose lease expired (their process died), then per
schedule enumerates the cron slots since the last recorded one:
- older slots become `missed` (the scheduler was down then), so a scheduler
  that comes back after three nights fires once, not three times;
- the newest slot fires if it is within the schedule's grace, unless a
  previous firing still runs (then it is `skipped`, not queued) or the
  schedule is paused;
- with no new slot, a failed firing whose backoff has passed is retried.
Every decision is an INSERT or a conditional UPDATE that only one scheduler
can win, so racing ticks and daemons on one store fire a slot once.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

import db.schedules as sched_store
from db.errors import StoreError
from db.models import Firing, Schedule, utcnow
from star.schedule import cron
from star.schedule.firing import CommandBuilder, FiringSpec, run_child, star_command, write_config
from star.schedule.notify import post_summary

log = logging.getLogger("star.scheduler")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Claim:
    """A firing attempt this process owns and must run."""

    firing_id: int
    schedule: str
    run_name: str
    slot: datetime
    attempt: int
    target_round: int
    config: dict[str, Any]
    address: str | None
    notify: str | None
    max_retries: int
    retry_backoff_s: int


def frozen_clock(start: datetime) -> Clock:
    """`--now`: time starts at `start` and runs on at the real rate, so durations stay true."""
    origin = time.monotonic()
    start = cron.as_utc(start)
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


class Scheduler:
    """Fires due schedules of one store; `clock` decides slots, `lease_clock` (wall time) leases."""

    def __init__(self, sessions: sessionmaker[Session], store_url: str, *, clock: Clock = utcnow,
                 lease_clock: Clock = utcnow, command: CommandBuilder = star_command, lease_s: float = 90.0,
                 stop: threading.Event | None = None) -> None:
        self.sessions = sessions
        self.store_url = store_url
        self.clock = clock
        self.lease_clock = lease_clock
        self.command = command
        self.lease_s = lease_s
        self.stop = stop or threading.Event()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # (schedule, final status) of every firing this process ran, for exit codes and tests.
        self.finished: list[tuple[str, str]] = []

    # -- deciding ------------------------------------------------------------

    def tick(self, *, wait: bool = True) -> list[threading.Thread]:
        """Fire every due schedule; with `wait`, return when those firings have ended."""
        self.reap()
        with self.sessions() as session:
            names = [s.name for s in sched_store.list_schedules(session)]
        claims = []
        for name in names:
            try:
                claim = self._plan(name)
            except StoreError:  # removed since the listing: nothing to fire
                log.info("schedule %s: removed during the tick", name)
                continue
            if claim is not None:
                claims.append(claim)
        threads = [threading.Thread(target=self.execute, args=(claim,), name=f"firing-{claim.schedule}")
                   for claim in claims]
        for thread in threads:
            thread.start()
        if wait:
            for thread in threads:
                thread.join()
        return threads

    def reap(self) -> None:
        with self.sessions.begin() as session:
            adopted = sched_store.adopt_orphans(session, lease_now=self.lease_clock(),
                                                lease_expires_at=self._lease_end())
            orphans = [(f.schedule.name, f.slot, f.schedule.run_name) for f in adopted]
            lost = sched_store.reap_lost(session, now=self.clock(), lease_now=self.lease_clock())
            reaped = [(f.id, f.schedule.name, f.slot, f.status) for f in lost]
        for name, slot, run_name in orphans:
            log.warning("schedule %s slot %s: its scheduler is gone but run %s's driver still holds the run; "
                        "waiting for it, not firing again", name, slot.isoformat(), run_name)
        for firing_id, name, slot, status in reaped:
            outcome = "succeeded (its driver finished after its scheduler was lost)" if status == "succeeded" \
                else "failed: lost (its lease expired)"
            log.warning("schedule %s slot %s: %s", name, slot.isoformat(), outcome)
            self._notify_by_id(firing_id)

    def _plan(self, name: str) -> Claim | None:
        now = self.clock()
        with self.sessions.begin() as session:
            schedule = sched_store.get_schedule(session, name)
            trigger = cron.trigger(schedule.cron, schedule.timezone)
            anchor = sched_store.latest_cron_slot(session, schedule.id) or schedule.created_at
            slots = cron.slots_between(trigger, anchor, now)
            if not slots:
                return None if schedule.paused else self._retry(session, schedule, now)
            *older, latest = slots
            if older:
                sched_store.record_slots(session, schedule, older, status="missed", now=now,
                                         error=f"no scheduler ran at this slot (caught up at {now:%Y-%m-%dT%H:%MZ})")
                log.info("schedule %s: caught up, %d older slot(s) recorded as missed", name, len(older))
            return self._fire_or_skip(session, schedule, latest, now)

    def _fire_or_skip(self, session: Session, schedule: Schedule, slot: datetime, now: datetime) -> Claim | None:
        reason = None
        if schedule.paused:
            reason = "skipped: schedule paused"
        elif now - slot > timedelta(seconds=schedule.grace_s):
            reason = f"missed: more than {schedule.grace_s / 3600:g} h late (grace)"
        elif sched_store.running_firings(session, schedule.id):
            reason = "skipped: previous firing still running"
        if reason is not None:
            status, _, why = reason.partition(": ")
            if sched_store.insert_firing(session, schedule, slot, status=status, error=why, now=now):
                log.info("schedule %s slot %s: %s", schedule.name, slot.isoformat(), reason)
            return None
        target = self._target(session, schedule)
        firing = sched_store.insert_firing(session, schedule, slot, status="running", owner=self.owner,
                                           lease_expires_at=self._lease_end(), target_round=target, now=now)
        if firing is None:
            log.info("schedule %s slot %s: already fired by another scheduler", schedule.name, slot.isoformat())
            return None
        log.info("schedule %s slot %s: fired (run %s to round %d)", schedule.name, slot.isoformat(),
                 schedule.run_name, target)
        return _claim(schedule, firing)

    def _retry(self, session: Session, schedule: Schedule, now: datetime) -> Claim | None:
        last = sched_store.latest_firing(session, schedule.id)
        if (last is None or last.status != "failed" or last.attempts >= 1 + schedule.max_retries
                or last.retry_at is None or last.retry_at > now
                or sched_store.running_firings(session, schedule.id)):
            return None
        if not sched_store.claim_retry(session, last, owner=self.owner, lease_expires_at=self._lease_end(),
                                       now=now):
            return None
        session.refresh(last)
        log.info("schedule %s slot %s: retry %d of %d", schedule.name, last.slot.isoformat(),
                 last.attempts - 1, schedule.max_retries)
        return _claim(schedule, last)

    def run_now(self, name: str) -> Claim:
        """Claim a manual firing at the current instant (refused while one is running)."""
        now = self.clock().replace(microsecond=0)
        with self.sessions.begin() as session:
            schedule = sched_store.get_schedule(session, name)
            if sched_store.running_firings(session, schedule.id):
                raise StoreError(f"schedule {name!r} has a firing running; wait for it "
                                 f"(`star schedule history {name}`)")
            firing = sched_store.insert_firing(session, schedule, now, status="running", manual=True,
                                               owner=self.owner, lease_expires_at=self._lease_end(),
                                               target_round=self._target(session, schedule), now=now)
            if firing is None:
                raise StoreError(f"schedule {name!r} already has a firing at {now.isoformat()}; try again")
            log.info("schedule %s: run-now fired (run %s to round %d)", name, schedule.run_name, firing.target_round)
            return _claim(schedule, firing)

    @staticmethod
    def _target(session: Session, schedule: Schedule) -> int:
        done = sched_store.done_rounds(session, schedule.run_name)
        return max(done, default=0) + schedule.rounds_per_firing

    def _lease_end(self) -> datetime:
        return self.lease_clock() + timedelta(seconds=self.lease_s)

    def next_wake(self, poll_s: float) -> float:
        """Seconds until the next slot of any active schedule, at most `poll_s`."""
        now = self.clock()
        with self.sessions() as session:
            schedules = [(s.cron, s.timezone) for s in sched_store.list_schedules(session) if not s.paused]
        upcoming = [cron.next_slot(cron.trigger(expr, tz), now) for expr, tz in schedules]
        seconds = [(slot - now).total_seconds() for slot in upcoming if slot is not None]
        return max(0.5, min([poll_s, *seconds]))

    # -- running -------------------------------------------------------------

    def execute(self, claim: Claim) -> str:
        """Run one claimed firing to its end; returns its final status."""
        try:
            return self._execute(claim)
        except Exception as exc:  # noqa: BLE001 - record, so the slot is not left running until its lease ends
            log.exception("schedule %s: firing crashed", claim.schedule)
            return self._finish(claim, None, status="failed", error=f"scheduler error: {exc}")

    def _execute(self, claim: Claim) -> str:
        with self.sessions() as session:
            before = sched_store.done_rounds(session, claim.run_name)
        if set(range(claim.target_round + 1)) <= before:
            return self._finish(claim, before, status="succeeded", error=None)
        with tempfile.TemporaryDirectory(prefix="star-firing-") as tmp:
            spec = FiringSpec(schedule=claim.schedule, run_name=claim.run_name, slot=claim.slot,
                              attempt=claim.attempt, target_round=claim.target_round,
                              config_path=write_config(claim.config, claim.run_name, self.store_url, Path(tmp)),
                              store_url=self.store_url, address=claim.address)
            if claim.address is not None:
                with self.sessions.begin() as session:
                    sched_store.set_job_id(session, claim.firing_id, spec.submission_id)
            log_path = self._log_path(claim)
            result = run_child(self.command(spec), log_path, heartbeat=lambda: self._heartbeat(claim),
                               interval=max(self.lease_s / 3, 0.05), stop=self.stop)
        if result.stopped and self.stop.is_set():
            return self._finish(claim, before, status="failed", retry_now=True,
                                error="interrupted: the scheduler stopped; retried when it starts again")
        if result.returncode != 0:
            return self._finish(claim, before, status="failed",
                                error=f"exit {result.returncode} (log {log_path}): {result.output_tail}")
        with self.sessions() as session:
            after = sched_store.done_rounds(session, claim.run_name)
        if claim.target_round not in after:
            return self._finish(claim, before, status="failed",
                                error=f"the child exited 0 but round {claim.target_round} is not done (log {log_path})")
        return self._finish(claim, before, status="succeeded", error=None)

    def _heartbeat(self, claim: Claim) -> bool:
        try:
            with self.sessions.begin() as session:
                ours = sched_store.renew_lease(session, claim.firing_id, owner=self.owner,
                                               lease_expires_at=self._lease_end())
        except SQLAlchemyError as exc:
            # A database blip must not kill a round; if it lasts past the lease,
            # another scheduler reaps the firing and the next renewal says so.
            log.warning("schedule %s: could not renew the lease (%s); trying again", claim.schedule, exc)
            return True
        if not ours:
            log.error("schedule %s: lost the lease of slot %s; stopping its child", claim.schedule,
                      claim.slot.isoformat())
        return ours

    def _finish(self, claim: Claim, before: set[int] | None, *, status: str, error: str | None,
                retry_now: bool = False) -> str:
        now = self.clock()
        retry_at = None
        if status == "failed" and (retry_now or claim.attempt < 1 + claim.max_retries):
            retry_at = now if retry_now else now + timedelta(seconds=claim.retry_backoff_s * 2 ** (claim.attempt - 1))
        with self.sessions.begin() as session:
            after = sched_store.done_rounds(session, claim.run_name)
            done = [] if before is None else sorted(after - before)  # None: unknown, claim nothing
            ours = sched_store.finish_firing(session, claim.firing_id, owner=self.owner, status=status, now=now,
                                             rounds=done, error=error, retry_at=retry_at)
        if not ours:
            log.error("schedule %s slot %s: finished after its lease was taken over; result not recorded",
                      claim.schedule, claim.slot.isoformat())
            return "failed"
        self.finished.append((claim.schedule, status))
        when = f"; retry at {retry_at.isoformat()}" if retry_at else ""
        log.log(logging.INFO if status == "succeeded" else logging.ERROR, "schedule %s slot %s: %s%s%s",
                claim.schedule, claim.slot.isoformat(), status, f": {error}" if error else "", when)
        self._notify_by_id(claim.firing_id)
        return status

    def _notify_by_id(self, firing_id: int) -> None:
        with self.sessions() as session:
            firing = session.get(Firing, firing_id)
            if firing is None or not firing.schedule.notify:
                return
            url = firing.schedule.notify
            summary = sched_store.firing_dict(firing, firing.schedule.name)
            last = max(sched_store.done_rounds(session, firing.run_name), default=None)
            summary["round"] = last
            summary["accuracy"] = None if last is None else sched_store.round_accuracy(session, firing.run_name, last)
        post_summary(url, summary)

    def _log_path(self, claim: Claim) -> Path:
        # A log file is local: for a storage URI it goes to the run's local folder (star/storage/runs.py).
        from star.storage.runs import local_output_dir

        storage = local_output_dir(str(claim.config.get("storage") or "star_runs"), self.store_url)
        stamp = claim.slot.strftime("%Y%m%dT%H%M%SZ")
        return storage / claim.run_name / "firings" / f"{claim.schedule}-{stamp}-{claim.attempt}.log"


def _claim(schedule: Schedule, firing: Firing) -> Claim:
    assert firing.target_round is not None
    return Claim(firing_id=firing.id, schedule=schedule.name, run_name=schedule.run_name, slot=firing.slot,
                 attempt=firing.attempts, target_round=firing.target_round, config=dict(schedule.config),
                 address=schedule.address, notify=schedule.notify, max_retries=schedule.max_retries,
                 retry_backoff_s=schedule.retry_backoff_s)
