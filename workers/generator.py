"""Generation worker: a Ray actor holding one vLLM engine for the current model."""

from __future__ import annotations

import ray

from star.generation import Completion, EngineSpec, GenRequest


@ray.remote
class GeneratorActor:
    """Keeps its engine alive across rounds; `load_weights` swaps in a new checkpoint."""

    def __init__(self, spec: EngineSpec) -> None:
        from star.generation import VllmEngine  # heavy import stays inside the actor

        self.engine = VllmEngine(spec)

    def load_weights(self, path: str) -> str:
        self.engine.load_weights(path)
        return path

    def generate(self, requests: list[GenRequest]) -> list[Completion]:
        return self.engine.generate(requests)

    def ready(self) -> bool:
        return True
