"""Trainer worker: a Ray actor that fine-tunes with TRL's SFTTrainer."""

from __future__ import annotations

import os

import ray

from star.training.release import release_gpu_cache, run_releasing
from star.training.sft import with_cpu_threads
from star.training.spec import TrainResult, TrainSpec


@ray.remote
class TrainerActor:
    def train(self, spec: TrainSpec) -> TrainResult:
        if spec.group is not None:  # a coordinator: the worker group trains (star/training/group.py)
            from star.training.group import train_in_group

            return train_in_group(spec, spec.group, scratch=_group_scratch(spec))
        from star.training.publish import train_and_publish  # torch/trl import inside the actor

        # the GPU memory goes back even when training fails: a colocated engine wakes up on this GPU next
        return run_releasing(lambda: train_and_publish(with_cpu_threads(spec)), release_gpu_cache)

    def ready(self) -> bool:
        return True

    def pid(self) -> int:
        """The actor's process id (operators and chaos tests kill it; a restart gives a new one).
        Ask before a `train` call: the actor answers one call at a time."""
        return os.getpid()


def _group_scratch(spec: TrainSpec) -> str | None:
    """Ray Train's run folder (logs only): beside the node's checkpoint cache when one is set."""
    cache = spec.publish.cache_dir if spec.publish else None
    return os.path.join(os.path.abspath(os.path.expanduser(cache)), "ray_train") if cache else None
