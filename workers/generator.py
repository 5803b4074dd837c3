"""Generation worker: a Ray actor holding one vLLM engine for the current model."""

from __future__ import annotations

import os
from dataclasses import replace

import ray

from star.engines.placement import prepare_engine_env
from star.engines.quiet_logs import quiet_engine_logs
from star.engines.requests import Completion, GenRequest
from star.engines.vllm_engine import EngineSpec


@ray.remote
class GeneratorActor:
    """Keeps its engine alive across rounds; each call names the checkpoint it must serve.

    Ray restarts a dead generator by running `__init__` again with the base
    spec, so the model is not actor state the driver has to re-send: every
    `generate` call carries it and a fresh engine loads it before serving.

    A model given as a URI (a checkpoint in a remote `storage`) is fetched
    into `cache_dir` on this actor's node first (star/storage/runs.py).
    """

    def __init__(self, spec: EngineSpec, cache_dir: str | None = None) -> None:
        # Worker logs reach the driver (log_to_driver); vLLM's INFO lines would drown them.
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        quiet_engine_logs()  # known-harmless vLLM / torch notices stay out of the driver's console
        # Tensor parallel: vLLM's workers go into this actor's placement group (star/engines/placement.py).
        prepare_engine_env(spec.tensor_parallel_size, spec.on_cpu)
        from star.engines.vllm_engine import VllmEngine  # heavy import stays inside the actor

        self.cache_dir = cache_dir
        self.engine = VllmEngine(replace(spec, model=self._local(spec.model)))

    def _local(self, model: str) -> str:
        """The local folder of `model`. For a URI that costs one read of its small manifest per batch
        while the cached copy matches, and restores a cache folder someone deleted."""
        from star.storage.runs import local_checkpoint

        return local_checkpoint(model, self.cache_dir)

    def load_weights(self, path: str) -> str:
        self.engine.load_weights(self._local(path))
        return path

    def generate(self, requests: list[GenRequest], model: str) -> list[Completion]:
        try:
            # a no-op unless the round's model changed (or this is a restart)
            self.engine.load_weights(self._local(model))
            return self.engine.generate(requests)
        except Exception as exc:
            if type(exc).__name__ == "EngineDeadError":
                # The engine's own process died (e.g. the OOM killer): this actor can never serve
                # again, so it exits and Ray restarts it with a fresh engine.
                print(f"vLLM engine died ({exc}); exiting so that Ray restarts this generation worker", flush=True)
                os._exit(1)
            raise

    def sleep(self, level: int = 1) -> None:
        """Free this engine's GPU for the trainer (colocate); it wakes on `wake_up` or its next batch."""
        self.engine.sleep(level)

    def wake_up(self) -> None:
        self.engine.wake_up()

    def ready(self) -> bool:
        return True

    def describe(self) -> dict:
        """What this worker serves and where: for operators and for fault tests."""
        return {"pid": os.getpid(), "model": self.engine.model_path, "node": ray.get_runtime_context().get_node_id()}
