"""The checker actor gets a task small enough to travel with its constructor call, so Ray can restart it.

Ray keeps a constructor argument over 100 KB in the object store and warns that a
restartable actor whose argument is lost there cannot come back (ray-project/ray#53727);
the default task with its problem pools was 113 KB.
"""

from __future__ import annotations

import os
import pickle
import signal
from pathlib import Path

import pytest

from star.config import load_config, validate_config
from star.engines.requests import Completion
from star.loop.acceptance import CheckItem
from star.tasks import build_task

#: Ray's default max_direct_call_object_size: arguments up to this travel inline in the call
RAY_INLINE_BYTES = 100 * 1024
GSM8K = Path(__file__).resolve().parents[1] / "data" / "gsm8k"


def _tasks():
    yield "arithmetic (the default)", build_task(load_config(None).task)
    yield "gsm8k (7,473 rows)", build_task(validate_config({"task": {
        "name": "gsm8k", "hub_name": None, "hub_config": None, "eval_split": None,
        "train_path": str(GSM8K / "train.jsonl"), "eval_path": str(GSM8K / "test.jsonl")}}).task)


@pytest.mark.parametrize(("name", "task"), list(_tasks()))
def test_the_checking_copy_travels_inline_and_keeps_the_drivers_pools(name, task) -> None:
    light = task.for_checking()
    assert len(pickle.dumps(task)) > RAY_INLINE_BYTES  # why the copy exists
    assert len(pickle.dumps(light)) < RAY_INLINE_BYTES / 2  # shots stay: 27 KB for 8 GSM8K shots
    assert light.train_problems() == [] and light.eval_problems() == []
    assert len(task.train_problems()) > 100  # the driver's own task is untouched
    problem = task.train_problems()[0]
    assert light.answer_type == task.answer_type and light.prompt(problem) == task.prompt(problem)


@pytest.mark.slow
def test_a_killed_checker_actor_restarts_and_scores_again(ray_session) -> None:
    import ray

    from workers.checker_pool import CheckerActor

    task = build_task(load_config(None, {"task.max_digits": 2}).task)
    problem = task.train_problems()[0]
    item = CheckItem(Completion(1, "direct", 0, task.prompt(problem), f"{problem.gold}", 1, 1, True), problem)
    checker = CheckerActor.options(num_cpus=0, max_restarts=1, max_task_retries=0).remote(
        1, 5.0, task.for_checking(), "answer")
    try:
        first_pid = ray.get(checker.pid.remote())
        os.kill(first_pid, signal.SIGKILL)
        from star.actor_calls import wait_ready

        wait_ready(checker, 120)
        assert ray.get(checker.pid.remote()) != first_pid  # a new process, built from the same arguments
        [scored] = ray.get(checker.score.remote([item]))
        assert scored.correct and scored.accepted
    finally:
        ray.kill(checker, no_restart=True)
