"""Ray start-up and the worker actors a run needs, sized from the config."""

from __future__ import annotations

import os
import signal
import threading
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
    """Start a private local Ray (no ray_address) or join a cluster that answers.

    Never ray.init(address=None): that joins whatever cluster this machine
    started last, and retries a dead one for minutes (star/preflight.py).
    """
    import ray

    from star.preflight import probe_ray_address, resolve_ray_address

    if ray.is_initialized():
        return
    address, source = resolve_ray_address(config.ray_address)
    probe_ray_address(address, source)
    # Workers inherit this; the engine reads it before vLLM starts.
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, int(config.generators.cpu_kv_cache_gb))))
    ours = signal.getsignal(signal.SIGTERM)
    ray.init(address=address, include_dashboard=False, logging_level="WARNING",
             log_to_driver=True, configure_logging=True)
    if callable(ours) and threading.current_thread() is threading.main_thread():
        # ray.init replaces the SIGTERM handler with sys.exit(15); keep the driver's own
        # (star/lifecycle.py), which also ignores a second SIGTERM while the run is cleaned up.
        signal.signal(signal.SIGTERM, ours)


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
    """Create generator, checker and trainer actors with the resources the config asks for.

    All are restartable (`recovery.max_restarts`) and none has its calls retried
    by Ray (`max_task_retries=0`): the pipeline re-queues a dead worker's batches
    itself, exactly once each, and the orchestrator retries training once.
    """
    from workers.checker_pool import CheckerActor
    from workers.generator import GeneratorActor
    from workers.trainer import TrainerActor

    spec = engine_spec(config, model_path)
    restart = {"max_restarts": config.recovery.max_restarts, "max_task_retries": 0}
    generators = []
    for _ in range(config.generators.count):
        options = _generator_options(config.generators.gpus_per_generator, config.generators.resources)
        generators.append(GeneratorActor.options(**options, **restart).remote(spec))
    checker = CheckerActor.options(num_cpus=0, **restart).remote(
        config.checker.workers, config.checker.timeout, task, config.accept
    )
    trainer = TrainerActor.options(num_cpus=0 if config.trainer.gpus == 0 else config.trainer.cpus,
                                   num_gpus=config.trainer.gpus, **restart).remote()
    import ray

    ray.get([g.ready.remote() for g in generators])
    return Workers(generators=generators, checker=checker, trainer=trainer)


def _generator_options(gpus: int, resources: dict[str, float] | None = None) -> dict:
    """One GPU: a plain num_gpus request. Tensor parallel: vLLM places its own Ray workers
    in a placement group, so the actor itself reserves no GPU. Custom resources pin
    engines to labelled nodes (a restarted engine goes to a node that has them)."""
    extra = {"resources": dict(resources)} if resources else {}
    if gpus == 0:
        return {"num_cpus": 0, **extra}
    if gpus == 1:
        return {"num_gpus": 1, "num_cpus": 1, **extra}
    return {"num_cpus": 1, **extra}


def stop_workers(workers: Workers) -> None:
    """Free the engines' memory now rather than when Ray collects the handles."""
    import ray

    for actor in [*workers.generators, workers.checker, workers.trainer]:
        ray.kill(actor, no_restart=True)  # restartable actors must not come back after the run
