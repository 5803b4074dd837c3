"""Training survives one death of the trainer actor.

Ray restarts a dead trainer actor (`max_restarts`) but never re-runs its call
(`max_task_retries=0`); the orchestrator retries the whole training once, from
scratch: a checkpoint is only renamed into place when complete (`.partial`
dir), so a half-written one is never used. An exception raised by the training
code itself is not retried: it would fail the same way again.
"""

from __future__ import annotations

from collections.abc import Callable

import ray
from ray.exceptions import RayError, RayTaskError

from star.errors import StarError
from star.pipeline import wait_ready
from star.training import TrainResult, TrainSpec

TRAIN_TRIES = 2  # the first try and one retry


class TrainingFailed(StarError):
    """The trainer actor died twice in one round; attempts are stored and the round stays resumable."""


def train_with_retry(trainer, spec: TrainSpec, *, round_index: int, restart_timeout: float = 1800.0,
                     log: Callable[[str], None] = lambda message: None) -> TrainResult:
    """`trainer.train(spec)`, run again once on the restarted actor if the actor died."""
    for attempt in range(1, TRAIN_TRIES + 1):
        try:
            return ray.get(trainer.train.remote(spec))
        except RayTaskError:
            raise
        except RayError as exc:  # the actor process or its node died
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if attempt == TRAIN_TRIES:
                raise TrainingFailed(
                    f"round {round_index}: the trainer actor died twice while training (last: {reason}); "
                    "the round's attempts are stored, so re-running `star run` with the same run_name trains "
                    "again; check the trainer's memory (trainer.gpus/cpus, training.batch_size) and its logs"
                ) from None
            log(f"round {round_index}: the trainer actor died ({reason}); training again from scratch")
            try:
                wait_ready(trainer, restart_timeout)  # a call to a restarting actor would fail at once
            except RayError:
                pass  # the retry then fails and says so
    raise AssertionError("unreachable")
