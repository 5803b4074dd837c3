"""Trainer worker: a Ray actor that fine-tunes with TRL's SFTTrainer."""

from __future__ import annotations

import ray

from star.training import TrainResult, TrainSpec


@ray.remote
class TrainerActor:
    def train(self, spec: TrainSpec) -> TrainResult:
        from star.training import train_sft  # torch/trl import inside the actor

        return train_sft(spec, progress=False)

    def ready(self) -> bool:
        return True
