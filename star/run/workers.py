"""Ray start-up and the worker actors a run needs, sized from the config."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from star.config import StarConfig, TrainerConfig
from star.engines.placement import (
    ENGINE_CPUS,
    colocated_bundles,
    colocated_options,
    generator_options,
    remove_groups,
    reserve_colocated_group,
    reserve_engine_groups,
)
from star.engines.vllm_engine import EngineSpec
from star.loop.context import Handles
from star.tasks.base import Task


@dataclass
class Workers(Handles):
    """The run's actors (the loop calls them through `Handles`) and the placement groups that hold
    their GPUs: one per tensor-parallel engine, or the one group a colocated run shares
    (star/engines/placement.py); removed by stop_workers."""

    placement_groups: list = field(default_factory=list)


def engine_spec(config: StarConfig, model_path: str) -> EngineSpec:
    from star.config import TINY_MODEL
    from star.precision import resolve_dtype

    gen = config.generators
    # CPU + auto: bfloat16 where the CPU computes it natively, float32 for the tiny model
    dtype = resolve_dtype(gen.dtype, model_path, on_cpu=gen.gpus_per_generator == 0,
                          tiny=config.model == TINY_MODEL)
    return EngineSpec(
        model=model_path, dtype=dtype, max_model_len=gen.max_model_len,
        tensor_parallel_size=max(1, gen.gpus_per_generator),
        gpu_memory_utilization=gen.gpu_memory_utilization, cpu_kv_cache_gb=gen.cpu_kv_cache_gb,
        enforce_eager=gen.enforce_eager, seed=config.seed, on_cpu=gen.gpus_per_generator == 0,
        enable_sleep_mode=config.colocate,  # engines sleep while the trainer uses their GPU
    )


def start_workers(config: StarConfig, model_path: str, task: Task) -> Workers:
    """Create generator, checker and trainer actors with the resources the config asks for.

    All are restartable (`recovery.max_restarts`) and none has its calls retried
    by Ray (`max_task_retries=0`): the pipeline re-queues a dead worker's batches
    itself, exactly once each, and the orchestrator retries training once.
    """
    import ray

    from star.run.preflight import check_gpu_requests, memory_warnings_for
    from workers.checker_pool import CheckerActor
    from workers.generator import GeneratorActor
    from workers.trainer import TrainerActor

    # Before any group waits for a node that does not exist: every GPU request must fit one node.
    check_gpu_requests(config.generators, config.trainer, ray.nodes())
    for warning in memory_warnings_for(config, model_path):  # an estimate: warned about, not refused
        logging.getLogger(__name__).warning("warning: %s", warning)
    spec = engine_spec(config, model_path)
    restart = {"max_restarts": config.recovery.max_restarts, "max_task_retries": 0}
    workers = Workers(generators=[], checker=None, trainer=None)
    try:
        workers.placement_groups = colocated_group(config) if config.colocate else _engine_groups(config)
        for index in range(config.generators.count):
            options = generator_actor_options(config, workers.placement_groups, index)
            generator = GeneratorActor.options(**options, **restart).remote(spec, config.checkpoint_cache)
            workers.generators.append(generator)
        workers.checker = CheckerActor.options(num_cpus=0, **restart).remote(
            config.checker.workers, config.checker.timeout, task.for_checking(), config.accept,
            config.require_work,
        )
        trainer = (colocated_trainer_options(config, workers.placement_groups[0]) if config.colocate
                   else trainer_options(config.trainer))
        workers.trainer = TrainerActor.options(**trainer, **restart).remote()
        ray.get([g.ready.remote() for g in workers.generators])
    except BaseException:
        _stop_after_failure(workers)
        raise
    return workers


def trainer_options(trainer: TrainerConfig) -> dict:
    """The trainer actor's Ray resources: a round's, and bench/training.py's, which measures that actor.

    With a worker group (trainer.workers > 1) the actor only coordinates and reserves nothing:
    the group's workers hold the GPUs (star/training/group.py)."""
    from star.training.group import group_plan

    if group_plan(trainer) is not None:
        # Ray Train's workers inherit this; its print patch breaks the stdout capture that
        # datasets' fingerprinting (dill) relies on, which then prints bytecode into the log
        return {"num_cpus": 0, "num_gpus": 0, "runtime_env": {"env_vars": {"RAY_TRAIN_ENABLE_PRINT_PATCH": "0"}}}
    # custom resources steer the trainer to a node type (trainer.resources), as generators.resources do engines
    extra = {"resources": dict(trainer.resources)} if trainer.resources else {}
    if trainer.gpus == 0:
        return {"num_cpus": 0, "num_gpus": 0, **extra}
    return {"num_cpus": trainer.cpus, "num_gpus": trainer.gpus, **extra}


def generator_actor_options(config: StarConfig, groups: list, index: int) -> dict:
    gen = config.generators
    if config.colocate:
        return colocated_options(groups[0], index, ENGINE_CPUS, gen.resources)  # engine i shares bundle i
    return generator_options(gen.gpus_per_generator, gen.resources, groups[index] if groups else None)


def colocated_trainer_options(config: StarConfig, group) -> dict:
    """colocate: the trainer takes the other share of the engine's GPU (bundle 0), with trainer.cpus."""
    return colocated_options(group, 0, config.trainer.cpus)


def colocated_group(config: StarConfig) -> list:
    """colocate: the one group engines and trainer share, ready (config allows one GPU, see colocate_problem)."""
    gen = config.generators
    bundles = colocated_bundles(gen.count * gen.gpus_per_generator, config.trainer.cpus, gen.resources)
    return [reserve_colocated_group(bundles, gen.placement_timeout)]


def _engine_groups(config: StarConfig) -> list:
    """Tensor-parallel engines' placement groups, ready; none for CPU or one-GPU engines."""
    gen = config.generators
    if gen.gpus_per_generator < 2:
        return []
    return reserve_engine_groups(gen.count, gen.gpus_per_generator, gen.resources, gen.placement_timeout)


def _stop_after_failure(workers: Workers) -> None:
    """No engine, GPU or placement group outlives a failed start; a cleanup error must
    not replace the start's own error."""
    try:
        stop_workers(workers)
    except Exception:  # noqa: BLE001 - the start's error is the one to report
        pass


def stop_workers(workers: Workers) -> None:
    """Free the engines' memory and GPUs now rather than when Ray collects the handles or
    the job ends (a placement group holds its GPUs until it is removed)."""
    import ray

    try:
        for actor in [*workers.generators, workers.checker, workers.trainer]:
            if actor is not None:
                ray.kill(actor, no_restart=True)  # restartable actors must not come back after the run
    finally:
        remove_groups(workers.placement_groups)
        workers.placement_groups = []
