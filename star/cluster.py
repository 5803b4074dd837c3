"""Ray start-up and the worker actors a run needs, sized from the config."""

from __future__ import annotations

import os
from dataclasses import dataclass

from star.config import StarConfig
from star.generation import EngineSpec
from star.tasks.base import Task


@dataclass
class Workers:
    generators: list
    checker: object
    trainer: object


def init_ray(config: StarConfig) -> None:
    import ray

    if ray.is_initialized():
        return
    # Workers inherit this; the engine reads it before vLLM starts.
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, int(config.generators.cpu_kv_cache_gb))))
    ray.init(address=config.ray_address, include_dashboard=False, logging_level="WARNING",
             log_to_driver=False, configure_logging=True)


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
    )


def start_workers(config: StarConfig, model_path: str, task: Task) -> Workers:
    """Create generator, checker and trainer actors with the resources the config asks for."""
    from workers.checker_pool import CheckerActor
    from workers.generator import GeneratorActor
    from workers.trainer import TrainerActor

    spec = engine_spec(config, model_path)
    gpus = config.generators.gpus_per_generator
    generators = []
    for _ in range(config.generators.count):
        options = _generator_options(gpus)
        generators.append(GeneratorActor.options(**options).remote(spec))
    checker = CheckerActor.options(num_cpus=0).remote(
        config.checker.workers, config.checker.timeout, task, config.accept
    )
    trainer = TrainerActor.options(num_cpus=0 if config.trainer.gpus == 0 else config.trainer.cpus,
                                   num_gpus=config.trainer.gpus).remote()
    import ray

    ray.get([g.ready.remote() for g in generators])
    return Workers(generators=generators, checker=checker, trainer=trainer)


def _generator_options(gpus: int) -> dict:
    """One GPU: a plain num_gpus request. Tensor parallel: vLLM places its own Ray workers
    in a placement group, so the actor itself reserves no GPU."""
    if gpus == 0:
        return {"num_cpus": 0}
    if gpus == 1:
        return {"num_gpus": 1, "num_cpus": 1}
    return {"num_cpus": 1}


def stop_workers(workers: Workers) -> None:
    """Free the engines' memory now rather than when Ray collects the handles."""
    import ray

    for actor in [*workers.generators, workers.checker, workers.trainer]:
        ray.kill(actor)
