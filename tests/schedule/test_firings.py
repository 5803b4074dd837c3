"""The scheduler's guarantees, on SQLite and the real PostgreSQL, with time driven by --now.

Firings run the fake round child (tests/schedule/fake_round.py): these tests are
about which slots fire and what is recorded, not about rounds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

TICK_PROC = str(Path(__file__).with_name("tick_proc.py"))
REPO = Path(__file__).resolve().parents[2]
Harness = Any  # the `harness` fixture (tests/ is not a package; conftest.py defines it)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def _statuses(harness: Harness) -> list[tuple[str, str]]:
    return [(f["slot"][:16], f["status"]) for f in reversed(harness.history())]


def _tick_process(harness: Harness, now: datetime, *fake: str, lease: float = 90.0,
                  start_at: float = 0.0) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), TICK_START_AT=str(start_at))
    return subprocess.Popen([sys.executable, TICK_PROC, harness.url, now.isoformat(), str(harness.calls),
                             str(lease), *fake], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def test_racing_ticks_fire_a_slot_once(harness: Harness) -> None:
    harness.add(created=utc(2027, 1, 1, 12))
    now = utc(2027, 1, 2, 2, 1)
    start_at = time.time() + 8  # all three decide at the same instant, after their imports
    procs = [_tick_process(harness, now, "--sleep", "1", start_at=start_at) for _ in range(3)]
    logs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), logs
    assert _statuses(harness) == [("2027-01-02T02:00", "succeeded")]
    assert len(harness.invocations()) == 1  # one child, not three
    assert sum("fired (run nightly to round 1)" in log for log in logs) == 1, logs
    firing = harness.history()[0]
    assert firing["rounds"] == [0, 1] and firing["attempts"] == 1


def test_racing_schedulers_in_threads_fire_a_slot_once(harness: Harness) -> None:
    import threading

    harness.add(created=utc(2027, 1, 1, 12))
    schedulers = [harness.scheduler(utc(2027, 1, 2, 2, 1)) for _ in range(6)]
    barrier = threading.Barrier(len(schedulers))
    errors: list[BaseException] = []

    def race(scheduler) -> None:
        barrier.wait()
        try:
            scheduler.tick(wait=True)
        except BaseException as exc:  # noqa: BLE001 - a losing scheduler must not crash either
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _statuses(harness) == [("2027-01-02T02:00", "succeeded")]
    assert sum(len(s.finished) for s in schedulers) == 1 and len(harness.invocations()) == 1


def test_a_slot_is_not_fired_twice_by_later_ticks(harness: Harness) -> None:
    harness.add(created=utc(2027, 1, 1, 12))
    for hour, minute in ((2, 1), (2, 5), (3, 0)):
        harness.tick(utc(2027, 1, 2, hour, minute))
    assert _statuses(harness) == [("2027-01-02T02:00", "succeeded")]
    assert [c["rounds"] for c in harness.invocations()] == [1]


def test_each_night_continues_the_run_by_rounds_per_firing(harness: Harness) -> None:
    harness.add(created=utc(2027, 1, 1, 12), rounds_per_firing=2)
    for day in (2, 3, 4):
        harness.tick(utc(2027, 1, day, 2, 5))
    assert [c["rounds"] for c in harness.invocations()] == [2, 4, 6]
    assert [f["rounds"] for f in reversed(harness.history())] == [[0, 1, 2], [3, 4], [5, 6]]


def test_overlap_records_the_new_slot_as_skipped(harness: Harness) -> None:
    harness.add(created=utc(2027, 1, 1), cron="0 * * * *")
    harness.fake_args = ["--sleep", "4"]
    first = harness.scheduler(utc(2027, 1, 1, 1, 0, 30))
    threads = first.tick(wait=False)
    assert _statuses(harness) == [("2027-01-01T01:00", "running")]
    harness.tick(utc(2027, 1, 1, 2, 0, 30))  # next slot while the first still runs
    for thread in threads:
        thread.join()
    assert _statuses(harness) == [("2027-01-01T01:00", "succeeded"), ("2027-01-01T02:00", "skipped")]
    skipped = harness.history()[0]
    assert skipped["error"] == "previous firing still running"
    assert len(harness.invocations()) == 1  # not queued behind the first


def test_catch_up_fires_once_for_the_newest_missed_slot(harness: Harness) -> None:
    harness.add(created=utc(2027, 1, 1, 12))
    harness.tick(utc(2027, 1, 5, 8))  # down since the 1st: nights of the 2nd, 3rd, 4th and 5th
    assert _statuses(harness) == [("2027-01-02T02:00", "missed"), ("2027-01-03T02:00", "missed"),
                                  ("2027-01-04T02:00", "missed"), ("2027-01-05T02:00", "succeeded")]
    assert len(harness.invocations()) == 1
    assert "no scheduler ran" in harness.history()[1]["error"]


def test_a_slot_beyond_the_grace_is_missed_not_fired(harness: Harness) -> None:
    harness.add(created=utc(2027, 1, 1, 12), grace_s=12 * 3600)
    harness.tick(utc(2027, 1, 2, 14, 1))  # 12 h 1 min after 02:00
    assert _statuses(harness) == [("2027-01-02T02:00", "missed")]
    assert "grace" in harness.history()[0]["error"]
    assert harness.invocations() == []


def test_paused_schedule_skips_and_resumes(harness: Harness) -> None:
    import db.schedules as sched_store

    harness.add(created=utc(2027, 1, 1, 12))
    with harness.sessions.begin() as session:
        sched_store.set_paused(session, "nightly", True)
    harness.tick(utc(2027, 1, 2, 2, 5))
    with harness.sessions.begin() as session:
        sched_store.set_paused(session, "nightly", False)
    harness.tick(utc(2027, 1, 2, 3))  # same night after resuming: nothing more
    harness.tick(utc(2027, 1, 3, 2, 5))
    assert _statuses(harness) == [("2027-01-02T02:00", "skipped"), ("2027-01-03T02:00", "succeeded")]
    assert harness.history()[1]["error"] == "schedule paused"


def test_a_failing_firing_is_recorded_and_retried_with_backoff(harness: Harness) -> None:
    harness.add(created=utc(2027, 1, 1, 12), max_retries=2, retry_backoff_s=600)
    harness.fake_args = ["--fail"]
    first = harness.tick(utc(2027, 1, 2, 2, 1))
    assert first.finished == [("nightly", "failed")]
    failed = harness.history()[0]
    assert failed["status"] == "failed" and "exit 3" in failed["error"] and "boom" in failed["error"]
    assert failed["retry_at"].startswith("2027-01-02T02:11")
    harness.tick(utc(2027, 1, 2, 2, 5))  # inside the backoff: no retry
    assert len(harness.invocations()) == 1
    harness.tick(utc(2027, 1, 2, 2, 12))  # retry 1 fails: the next backoff doubles
    assert harness.history()[0]["retry_at"].startswith("2027-01-02T02:32")
    harness.tick(utc(2027, 1, 2, 2, 20))
    assert len(harness.invocations()) == 2
    harness.fake_args = []
    harness.tick(utc(2027, 1, 2, 2, 33))  # retry 2 succeeds
    done = harness.history()[0]
    assert (done["status"], done["attempts"], done["error"], done["rounds"]) == ("succeeded", 3, None, [0, 1])
    assert [c["rounds"] for c in harness.invocations()] == [1, 1, 1]  # the same round each time


def test_no_retry_after_max_retries(harness: Harness) -> None:
    harness.add(created=utc(2027, 1, 1, 12), max_retries=1, retry_backoff_s=60)
    harness.fake_args = ["--fail"]
    for minute in (1, 3, 10, 30):
        harness.tick(utc(2027, 1, 2, 2, minute))
    firing = harness.history()[0]
    assert (firing["status"], firing["attempts"], firing["retry_at"]) == ("failed", 2, None)
    assert len(harness.invocations()) == 2


def test_killed_firing_is_taken_over_without_redoing_the_round(harness: Harness) -> None:
    harness.add(created=utc(2027, 1, 1, 12))
    slot_time = utc(2027, 1, 2, 2, 1)
    proc = _tick_process(harness, slot_time, "--sleep", "120", lease=1.0)
    try:
        deadline = time.monotonic() + 60
        while not harness.invocations():  # the child started: the firing is running
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the scheduler and its child, as a machine crash would
        proc.wait()
    assert _statuses(harness) == [("2027-01-02T02:00", "running")]
    time.sleep(1.5)  # the 1 s lease runs out (wall time: leases are not driven by --now)
    harness.tick(slot_time + timedelta(minutes=5))
    firing = harness.history()[0]
    assert (firing["status"], firing["attempts"], firing["rounds"]) == ("succeeded", 2, [0, 1])
    assert [c["rounds"] for c in harness.invocations()] == [1, 1]  # the retry finished round 1, no round 2


def test_reaping_marks_a_dead_firing_failed_lost(harness: Harness) -> None:
    harness.add(created=utc(2027, 1, 1, 12), max_retries=0)
    harness.fake_args = ["--sleep", "3"]
    owner = harness.scheduler(utc(2027, 1, 2, 2, 1), lease_s=0.2)
    # Another scheduler whose clock is past the lease sees a firing nobody renews.
    import db.schedules as sched_store
    from db.models import utcnow

    threads = owner.tick(wait=False)
    with harness.sessions.begin() as session:
        lost = sched_store.reap_lost(session, now=utcnow(), lease_now=utcnow() + timedelta(hours=1))
    assert [f.error for f in lost] == [sched_store.LOST]
    for thread in threads:
        thread.join()
    firing = harness.history()[0]
    # The owner noticed it lost the lease and stopped its child; the store keeps `failed: lost`.
    assert firing["status"] == "failed" and firing["error"].startswith("lost")
    assert owner.finished == []


def test_a_restarted_scheduler_waits_for_the_orphaned_driver_and_never_fires_its_slot_again(harness: Harness) -> None:
    import db.schedules as sched_store
    import db.store as store
    from db.leases import acquire_lease, release_lease, this_process
    from db.models import utcnow

    harness.add(created=utc(2027, 1, 1, 12))
    harness.fake_args = ["--sleep", "3600"]
    dead = harness.scheduler(utc(2027, 1, 2, 2, 1), lease_s=0.2)
    claim = dead._plan("nightly")  # the slot is claimed, then its scheduler dies (never runs it)
    with harness.sessions.begin() as session:  # ...while its driver lives on (a Ray job, an orphaned child)
        run = store.get_or_create_run(session, "nightly", config={"lease": {"timeout_s": 3600}}, base_model="m")
        lease = acquire_lease(session, run, this_process(), now=utcnow(), timeout_s=3600)  # the live orphan
    assert claim is not None
    time.sleep(0.5)  # the dead scheduler's 0.2 s lease runs out (wall time: leases are not driven by --now)
    restarted = harness.tick(utc(2027, 1, 2, 2, 30), lease_s=0.2)
    assert harness.history()[0]["status"] == "running" and harness.invocations() == []
    time.sleep(0.5)
    harness.tick(utc(2027, 1, 3, 2, 1), lease_s=0.2)  # the next night: its slot waits for the orphan
    assert _statuses(harness) == [("2027-01-02T02:00", "running"), ("2027-01-03T02:00", "skipped")]
    assert harness.invocations() == [] and restarted.finished == []

    with harness.sessions.begin() as session:  # the orphan finishes round 1 and gives the run back
        run = store.get_or_create_run(session, "nightly", config={}, base_model="m")
        for index in (0, 1):
            store.update_round(session, store.get_or_create_round(session, run, index), status="done")
        release_lease(session, lease)
    time.sleep(0.5)
    harness.tick(utc(2027, 1, 3, 2, 30), lease_s=0.2)
    first = harness.history()[-1]
    # the first firing's rounds: 0 (the base model's evaluation) and 1, as its own scheduler would record
    assert (first["status"], first["attempts"], first["rounds"]) == ("succeeded", 1, [0, 1])
    assert harness.invocations() == []  # nothing was ever started twice
    with harness.sessions() as session:
        assert sched_store.running_firings(session, 1) == []


def test_an_orphan_of_a_later_night_records_only_its_own_round(factory: Any) -> None:
    import db.schedules as sched_store
    from db import store

    with factory.begin() as session:
        schedule = sched_store.add_schedule(session, name="nightly", run_name="nightly", config={},
                                            cron="0 2 * * *", timezone="UTC")
        first = sched_store.insert_firing(session, schedule, utc(2027, 1, 2, 2), status="running", owner="a",
                                          lease_expires_at=utc(2027, 1, 2, 3), target_round=1)
        assert sched_store.finish_firing(session, first.id, owner="a", status="succeeded", now=utc(2027, 1, 2, 3),
                                         rounds=[0, 1])
        # night 2: its scheduler died (lease long gone) and its driver finished round 2 without it
        sched_store.insert_firing(session, schedule, utc(2027, 1, 3, 2), status="running", owner="b",
                                  lease_expires_at=utc(2027, 1, 3, 3), target_round=2)
        run = store.get_or_create_run(session, "nightly", config={}, base_model="m")
        for index in (0, 1, 2):
            store.update_round(session, store.get_or_create_round(session, run, index), status="done")
    with factory.begin() as session:
        [reaped] = sched_store.reap_lost(session, now=utc(2027, 1, 3, 4), lease_now=utc(2027, 1, 3, 4))
        assert (reaped.status, reaped.rounds) == ("succeeded", [2])  # not night 1's rounds again
