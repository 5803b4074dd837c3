"""Trainer worker: a Ray actor that fine-tunes with TRL's SFTTrainer."""

from __future__ import annotations

import ray

from star.training import TrainResult, TrainSpec


@ray.remote
class TrainerActor:
    def train(self, spec: TrainSpec) -> TrainResult:
        from star.run_storage import train_and_publish  # torch/trl import inside the actor

        return train_and_publish(spec)

    def ready(self) -> bool:
        return True
