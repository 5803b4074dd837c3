"""A nightly firing with `--address` submits its round as a Ray job on a real cluster.

The scheduler runs `star submit --wait` with a submission id derived from the
schedule and the slot; the job's driver runs the round against the shared
PostgreSQL store, and the firing records the job id and the round it finished.
"""

from __future__ import annotations

import json
import secrets
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


def test_a_firing_with_an_address_runs_its_round_as_a_ray_job(  # type: ignore[no-untyped-def]
        ray_cluster, pg_database, tiny_model, tiny_round_config, tmp_path: Path) -> None:
    schema = f"sched_{secrets.token_hex(4)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    db_url = f"{pg_database}?options=-csearch_path%3D{schema}"
    config_path = tmp_path / "nightly.yaml"
    config_path.write_text(yaml.safe_dump(tiny_round_config(tmp_path, tiny_model, samples=1, hinted=1)))
    env = {**ray_cluster.env, "STAR_DATABASE_URL": db_url}

    assert ray_cluster.star("db", "upgrade", env=env).returncode == 0
    added = ray_cluster.star("schedule", "add", "cl-nightly", str(config_path), "--cron", "0 2 * * *",
                             "--address", ray_cluster.dashboard_url, env=env)
    assert added.returncode == 0, added.stderr
    slot = cron.next_slot(cron.trigger("0 2 * * *", "UTC"), utcnow())
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
