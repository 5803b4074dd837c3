"""A nightly firing with `--address` submits its round as a Ray job on a real cluster.

The scheduler runs `star submit --wait` with a submission id derived from the
schedule and the slot; the job's driver runs the round against the shared
PostgreSQL store, and the firing records the job id and the round it finished.
A scheduler SIGKILLed while its job runs is replaced by one that adopts the
firing: it never submits the slot again and records it when the job's round is done.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import yaml
from sqlalchemy import func, select

from db.engine import open_store, session_factory
from db.models import Attempt, Run, utcnow
from star.schedule import cron

pytestmark = pytest.mark.slow


def _scheduled(ray_cluster, pg_database: str, config: dict, name: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh schema of the session's database with a nightly schedule `name` submitting to the cluster;
    (database url, environment for `star`, the next slot)."""
    schema = f"sched_{secrets.token_hex(4)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    db_url = f"{pg_database}?options=-csearch_path%3D{schema}"
    config_path = tmp_path / f"{name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = {**ray_cluster.env, "STAR_DATABASE_URL": db_url}
    assert ray_cluster.star("db", "upgrade", env=env).returncode == 0
    added = ray_cluster.star("schedule", "add", name, str(config_path), "--cron", "0 2 * * *",
                             "--address", ray_cluster.dashboard_url, env=env)
    assert added.returncode == 0, added.stderr
    return db_url, env, cron.next_slot(cron.trigger("0 2 * * *", "UTC"), utcnow())


def test_a_firing_with_an_address_runs_its_round_as_a_ray_job(  # type: ignore[no-untyped-def]
        ray_cluster, pg_database, tiny_model, tiny_round_config, tmp_path: Path) -> None:
    db_url, env, slot = _scheduled(ray_cluster, pg_database, tiny_round_config(tmp_path, tiny_model, samples=1,
                                                                               hinted=1), "cl-nightly", tmp_path)
    tick = ray_cluster.star("schedule", "tick", "--now", (slot + timedelta(minutes=1)).isoformat(), env=env,
                            timeout=900)
    assert tick.returncode == 0, tick.stdout[-3000:] + tick.stderr[-3000:]

    [firing] = json.loads(ray_cluster.star("schedule", "history", "--json", env=env).stdout)
    job_id = f"star-cl-nightly-{slot.strftime('%Y%m%dT%H%M%SZ')}"
    # The first firing also completes round 0, the base model's evaluation.
    assert (firing["status"], firing["rounds"], firing["job_id"]) == ("succeeded", [0, 1], job_id)
    assert ray_cluster.job_status(job_id) == "SUCCEEDED"  # the round ran as that Ray job

    sessions = session_factory(open_store(db_url))
    with sessions() as s:
        run = s.scalars(select(Run).where(Run.name == "cl-nightly")).one()
        assert [(r.index, r.status) for r in run.rounds] == [(0, "done"), (1, "done")]
        round1 = next(r for r in run.rounds if r.index == 1)
        direct = s.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.round_id == round1.id, Attempt.kind == "direct"))
        assert direct == round1.attempted and round1.dataset_rows == round1.attempted
    # A second tick for the same slot fires nothing: the firing row is unique per (schedule, slot).
    again = ray_cluster.star("schedule", "tick", "--now", (slot + timedelta(minutes=2)).isoformat(), env=env)
    assert again.returncode == 0 and len(json.loads(ray_cluster.star("schedule", "history", "--json",
                                                                     env=env).stdout)) == 1


def _round_one_started(sessions, run_name: str) -> bool:  # type: ignore[no-untyped-def]
    with sessions() as s:
        run = s.scalars(select(Run).where(Run.name == run_name)).one_or_none()
        round1 = next((r for r in run.rounds if r.index == 1), None) if run else None
        return round1 is not None and bool(s.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.round_id == round1.id)))


def _wait_for(condition, what: str, timeout_s: float = 900) -> None:  # type: ignore[no-untyped-def]
    """Poll `condition` until it holds; the deadline only guards against a hang (the test fails there)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not condition():
        time.sleep(1)
    assert condition(), f"{what}: not so after {timeout_s:.0f} s"


def test_a_scheduler_sigkilled_while_its_job_runs_is_replaced_without_a_second_job(  # type: ignore[no-untyped-def]
        ray_cluster, pg_database, tiny_model, tiny_round_config, tmp_path: Path) -> None:
    name = "cl-orphan"
    db_url, env, slot = _scheduled(ray_cluster, pg_database, tiny_round_config(tmp_path, tiny_model, samples=1,
                                                                               hinted=1), name, tmp_path)
    job_id = f"star-{name}-{slot.strftime('%Y%m%dT%H%M%SZ')}"
    lease = ["--lease-seconds", "2"]  # the dead scheduler's claim on the slot runs out quickly
    scheduler = ray_cluster.start_star("schedule", "tick", "--now", (slot + timedelta(minutes=1)).isoformat(),
                                       *lease, env=env)
    try:
        sessions = session_factory(open_store(db_url))  # one engine for every look, not one per look
        _wait_for(lambda: ray_cluster.job_status(job_id) == "RUNNING" and _round_one_started(sessions, name),
                  "the firing's job storing round 1's attempts")
        os.kill(scheduler.pid, signal.SIGKILL)  # the scheduler alone: its `star submit --wait` child lives on
        scheduler.wait()
        assert ray_cluster.job_status(job_id) == "RUNNING", "the kill must land while the job runs"
        time.sleep(3)  # past the dead scheduler's 2 s lease on the slot (leases run on wall time)

        restarted = ray_cluster.star("schedule", "tick", "--now", (slot + timedelta(minutes=2)).isoformat(),
                                     *lease, env=env)
        assert restarted.returncode == 0, restarted.stderr[-3000:]
        [firing] = json.loads(ray_cluster.star("schedule", "history", "--json", env=env).stdout)
        assert firing["status"] == "running"  # adopted: its driver (the Ray job) still holds the run
        assert ray_cluster.job_ids(f"star-{name}-") == [job_id]  # and not submitted again

        _wait_for(lambda: ray_cluster.job_status(job_id) not in ("PENDING", "RUNNING"), "the job ending")
        assert ray_cluster.job_status(job_id) == "SUCCEEDED"
        after = ray_cluster.star("schedule", "tick", "--now", (slot + timedelta(minutes=3)).isoformat(), *lease,
                                 env=env)
        assert after.returncode == 0, after.stderr[-3000:]
    finally:
        try:
            os.killpg(scheduler.pid, signal.SIGKILL)  # whatever the dead scheduler's group left behind
        except ProcessLookupError:
            pass
    [firing] = json.loads(ray_cluster.star("schedule", "history", "--json", env=env).stdout)
    assert (firing["status"], firing["rounds"]) == ("succeeded", [0, 1])
    assert ray_cluster.job_ids(f"star-{name}-") == [job_id]  # one job for the slot, ever
    check = ray_cluster.star("db", "check", name, env=env)
    assert check.returncode == 0, check.stdout[-3000:]
