"""Generation requests and completions, and the vLLM engine that serves them.

Plain classes: the generator actor (workers/generator.py) is a thin Ray shell
over `VllmEngine`, and tests or benchmarks can use the engine directly (it must
be created in a worker process or under `if __name__ == "__main__":` because
vLLM starts its engine core with spawn).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from star.tasks.base import Task


@dataclass(frozen=True)
class GenRequest:
    """K samples for one prompt. `seed` makes the samples reproducible."""

    problem_id: int
    kind: str  # direct | rationalized | eval
    prompt: str
    n: int
    temperature: float
    top_p: float
    max_tokens: int
    stop: tuple[str, ...]
    seed: int
    #: (role, content) turns for models with a chat template; empty = send `prompt` as text
    messages: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Completion:
    problem_id: int
    kind: str
    sample_index: int
    prompt: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    finished: bool  # False when cut off by max_tokens


def request_seed(run_seed: int, round_index: int, problem_uid: str, kind: str) -> int:
    """A stable per-request seed, so re-running a round reproduces its samples."""
    blob = f"{run_seed}|{round_index}|{problem_uid}|{kind}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "little")


@dataclass(frozen=True)
class EngineSpec:
    model: str
    dtype: str = "auto"
    max_model_len: int = 1024
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.85
    cpu_kv_cache_gb: float = 2.0
    enforce_eager: bool = True
    seed: int = 0
    on_cpu: bool = True


class VllmEngine:
    """One vLLM `LLM`, kept alive across rounds; new weights are loaded in place."""

    def __init__(self, spec: EngineSpec) -> None:
        # Must be set before vLLM reads its environment.
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, int(spec.cpu_kv_cache_gb))))
        from vllm import LLM

        self.spec = spec
        self.model_path = spec.model
        kwargs: dict[str, Any] = {}
        if spec.tensor_parallel_size > 1:
            kwargs["distributed_executor_backend"] = "ray"
        if spec.on_cpu:
            # vLLM rewinds a seeded request's generator when a chunked prefill
            # discards its token, which CPU generators cannot do ("CPU Generator
            # does not use offset"). Whole prefills avoid it and keep per-request
            # seeds reproducible whatever the batch composition.
            kwargs["enable_chunked_prefill"] = False
            kwargs["max_num_batched_tokens"] = max(spec.max_model_len, 4096)
            # A reload leaves a tied output head's CPU kernel stale (star/vllm_extension.py).
            kwargs["worker_extension_cls"] = "star.vllm_extension.StarWorkerExtension"
        self.llm = LLM(
            model=spec.model, dtype=spec.dtype, max_model_len=spec.max_model_len,
            tensor_parallel_size=spec.tensor_parallel_size,
            gpu_memory_utilization=spec.gpu_memory_utilization,
            enforce_eager=spec.enforce_eager, seed=spec.seed, **kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def load_weights(self, path: str) -> None:
        """Swap in the weights of a checkpoint with the same architecture."""
        if path == self.model_path:
            return
        self.llm.collective_rpc("reload_weights", kwargs={"weights_path": path})
        if self.spec.on_cpu:
            self.llm.collective_rpc("refresh_cpu_kernels")
        # Cached prefixes were computed with the old weights.
        self.llm.reset_prefix_cache()
        self.model_path = path

    def generate(self, requests: list[GenRequest]) -> list[Completion]:
        from vllm import SamplingParams

        if not requests:
            return []
        prompts = [self._render(r) for r in requests]
        params = [
            SamplingParams(n=r.n, temperature=r.temperature, top_p=r.top_p, max_tokens=r.max_tokens,
                           stop=list(r.stop) or None, seed=r.seed)
            for r in requests
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        completions = []
        for request, output in zip(requests, outputs):
            for index, sample in enumerate(output.outputs):
                completions.append(Completion(
                    problem_id=request.problem_id, kind=request.kind, sample_index=index,
                    prompt=request.prompt, text=sample.text,
                    prompt_tokens=len(output.prompt_token_ids or ()),
                    completion_tokens=len(sample.token_ids), finished=sample.finish_reason != "length",
                ))
        return completions

    def _render(self, request: GenRequest) -> str:
        if not request.messages:
            return request.prompt
        messages = [{"role": role, "content": content} for role, content in request.messages]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def chat_turns(task: "Task", prompt: str) -> tuple[tuple[str, str], ...]:
    """The prompt as chat turns when the task asks for the model's chat template."""
    if not task.use_chat_template:
        return ()
    return tuple((m["role"], m["content"]) for m in task.to_messages(prompt))
