"""The trainer as a Ray Train `TorchTrainer` group of `trainer.workers` processes.

One process that sees N GPUs makes the HF Trainer fall back to `nn.DataParallel`
(one replica per GPU driven from one Python thread; a 7B full fine-tune does not
fit one GPU's memory). With `trainer.workers` > 1 the trainer actor becomes a
coordinator that reserves nothing and starts a Ray Train worker group instead:
one process per worker, each with `trainer.gpus / trainer.workers` GPUs (or none
on CPU), in a torch process group (NCCL on GPU, gloo on CPU) that Ray Train sets
up. Each runs the same `train_and_publish` as a one-process trainer: TRL's
`SFTTrainer` sees the process group and trains under DDP (or FSDP,
`trainer.strategy`), with `batch_size` still the examples per optimizer step
across all workers. Rank 0 alone saves and publishes the checkpoint.

`trainer.workers` = 1 keeps today's single process inside the trainer actor:
there is nothing to distribute, and no worker group to start each round.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import TYPE_CHECKING, Any

from star.training.spec import GroupPlan

if TYPE_CHECKING:
    from star.config import TrainerConfig
    from star.training.spec import TrainResult, TrainSpec

#: a worker group that fails (a worker or its node dies) is started again once, from scratch,
#: as train_with_retry does for the one-process trainer
GROUP_RETRIES = 1

#: what a CPU training worker reserves: not a core (they train while the engines wait), but not
#: nothing either, which Ray's placement groups refuse
CPU_TOKEN = 0.01


def worker_count(trainer: "TrainerConfig") -> int:
    """`trainer.workers`, else one per trainer GPU, or 1 on CPU."""
    if trainer.workers is not None:
        return trainer.workers
    return max(1, trainer.gpus)


def group_plan(trainer: "TrainerConfig") -> GroupPlan | None:
    """The worker group for `trainer`, or None for a one-process trainer (the actor trains itself)."""
    workers = worker_count(trainer)
    if workers == 1:
        return None
    gpus_per_worker = trainer.gpus // workers  # the config checks that it divides
    return GroupPlan(workers=workers, gpus_per_worker=gpus_per_worker,
                     cpus_per_worker=float(trainer.cpus) if gpus_per_worker else CPU_TOKEN,
                     strategy=trainer.strategy, resources=dict(trainer.resources),
                     placement="STRICT_PACK" if trainer.same_node else "PACK")


def train_in_group(spec: "TrainSpec", plan: GroupPlan, scratch: str | None = None) -> "TrainResult":
    """Run `spec` on a TorchTrainer group of `plan.workers` processes; rank 0's result.

    `scratch` holds Ray Train's run folder (its logs; star reports no Ray checkpoints).
    """
    import ray
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    resources = {"CPU": plan.cpus_per_worker, **({"GPU": float(plan.gpus_per_worker)} if plan.use_gpu else {}),
                 **plan.resources}
    # Ray Train keeps only metrics reported with a checkpoint; rank 0 hands its result over here instead
    box = ray.remote(_ResultBox).options(num_cpus=0).remote()
    try:
        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config={"spec": spec, "strategy": plan.strategy, "box": box},
            torch_config=TorchConfig(backend="nccl" if plan.use_gpu else "gloo"),
            scaling_config=ScalingConfig(num_workers=plan.workers, use_gpu=plan.use_gpu,
                                         resources_per_worker=resources, placement_strategy=plan.placement),
            # a new Ray Train run each call: a reused name would load the earlier run's state
            run_config=RunConfig(name=_run_name(spec), storage_path=scratch or tempfile.gettempdir(),
                                 failure_config=FailureConfig(max_failures=GROUP_RETRIES)),
        )
        trainer.fit()
        return ray.get(box.take.remote())
    finally:
        ray.kill(box)


def _run_name(spec: "TrainSpec") -> str:
    """`star-train-<run>-round_R-<random>`: one Ray Train run folder per training call."""
    import uuid

    where = f"{os.path.basename(spec.publish.location)}-{spec.publish.name}-" if spec.publish else ""
    return f"star-train-{where}{uuid.uuid4().hex[:8]}"


class _ResultBox:
    """Holds rank 0's TrainResult until the coordinator takes it."""

    def __init__(self) -> None:
        self._result: TrainResult | None = None

    def put(self, result: "TrainResult") -> None:
        self._result = result

    def take(self) -> "TrainResult":
        if self._result is None:
            raise RuntimeError("the training group finished without rank 0's result")
        return self._result


def _worker_loop(config: dict[str, Any]) -> None:
    """One worker of the group: train with its rank's share of every batch; rank 0 saves,
    publishes and hands the result to the coordinator."""
    import ray
    import ray.train

    from star.training.publish import train_and_publish
    from star.training.sft import with_cpu_threads

    context = ray.train.get_context()
    spec = dataclasses.replace(config["spec"], world_size=context.get_world_size(), rank=context.get_world_rank(),
                               strategy=config["strategy"], group=None)
    spec = with_cpu_threads(spec, processes=context.get_local_world_size())
    result = train_and_publish(spec)
    if spec.rank == 0:
        ray.get(config["box"].put.remote(result))
