"""Trainer worker: a Ray actor that fine-tunes with TRL's SFTTrainer."""

from __future__ import annotations

import os

import ray

from star.training.sft import with_cpu_threads
from star.training.spec import TrainResult, TrainSpec


@ray.remote
class TrainerActor:
    def train(self, spec: TrainSpec) -> TrainResult:
        if spec.group is not None:  # a coordinator: the worker group trains (star/training/group.py)
            from star.training.group import train_in_group

            return train_in_group(spec, spec.group, scratch=_group_scratch(spec))
        from star.training.publish import train_and_publish  # torch/trl import inside the actor

        try:
            return train_and_publish(with_cpu_threads(spec))
        finally:
            release_gpu_cache()

    def ready(self) -> bool:
        return True


def _group_scratch(spec: TrainSpec) -> str | None:
    """Ray Train's run folder (logs only): beside the node's checkpoint cache when one is set."""
    cache = spec.publish.cache_dir if spec.publish else None
    return os.path.join(os.path.abspath(os.path.expanduser(cache)), "ray_train") if cache else None


def release_gpu_cache() -> None:
    """Give the GPU memory PyTorch still caches after training back to the device.

    This process outlives the round; without this its allocator keeps the training peak reserved,
    and an engine sharing the GPU (colocate) could not wake up next to it. The model and optimizer
    are unreachable by now, but hold reference cycles, hence the collection first.
    """
    import gc

    import torch

    if torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()
