"""A generation worker that swaps in a round's checkpoint must then serve that checkpoint.

Every round after the first depends on it: `load_weights` reloads the engine in
place (vLLM's `reload_weights` with a path). A reload that silently kept the old
weights (vLLM issue #32718, where older releases re-read the original path)
would leave every later round sampling from the seed model, and no count in the
store would show it. So: greedy outputs after the swap must differ from the old
model's and equal those of a fresh engine started on the new checkpoint.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import ray

from star.engines.requests import GenRequest
from star.engines.vllm_engine import EngineSpec
from star.tasks.arithmetic import render_prompt

PROBLEMS = [(a, b) for a in (3, 17, 45, 208, 961) for b in (6, 58, 730)]


def _perturbed_copy(model: Path, out: Path) -> Path:
    """A checkpoint with the same architecture and different weights (seeded noise on every tensor)."""
    import torch
    from transformers import AutoModelForCausalLM

    shutil.copytree(model, out)
    weights = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in weights.parameters():
            parameter.mul_(1 + 0.3 * torch.randn(parameter.shape, generator=generator))
    weights.save_pretrained(out, safe_serialization=True)
    return out


def _greedy(actor, model: Path) -> list[str]:
    requests = [GenRequest(i, "eval", render_prompt(a, b), 1, 0.0, 1.0, 40, (), i)
                for i, (a, b) in enumerate(PROBLEMS)]
    return [c.text for c in ray.get(actor.generate.remote(requests, str(model)), timeout=600)]


@pytest.mark.slow
def test_after_load_weights_the_engine_serves_the_new_checkpoint(tmp_path: Path, tiny_model: Path,
                                                                ray_session: None) -> None:
    from workers.generator import GeneratorActor

    other = _perturbed_copy(tiny_model, tmp_path / "other")

    def spec(model: Path) -> EngineSpec:
        return EngineSpec(model=str(model), dtype="float32", max_model_len=256, cpu_kv_cache_gb=1)

    swapped = GeneratorActor.options(num_cpus=0).remote(spec(tiny_model))
    try:
        before = _greedy(swapped, tiny_model)
        after = _greedy(swapped, other)  # the call names the model: the worker reloads in place
        served = ray.get(swapped.describe.remote())["model"]
    finally:
        ray.kill(swapped, no_restart=True)
    fresh = GeneratorActor.options(num_cpus=0).remote(spec(other))
    try:
        reference = _greedy(fresh, other)
    finally:
        ray.kill(fresh, no_restart=True)

    assert served == str(other)
    assert sum(b != a for b, a in zip(before, after)) >= len(PROBLEMS) // 3, list(zip(before, after))
    assert after == reference, [(x, y) for x, y in zip(after, reference) if x != y]


def _free_gpu_bytes() -> int:
    """Free memory of every GPU this machine has (the engine may be on any of them)."""
    import torch

    return sum(torch.cuda.mem_get_info(device)[0] for device in range(torch.cuda.device_count()))


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.slow
@pytest.mark.skipif(not _has_gpu(), reason="vLLM sleep mode needs a GPU (vLLM-CPU has none: test_engine_sleep.py)")
def test_a_sleeping_engine_frees_its_gpu_and_wakes_up_serving_and_reloading(tmp_path: Path, tiny_model: Path,
                                                                           ray_session: None) -> None:
    """colocate's engine side on a real GPU: sleep (level 1) frees the KV cache and the weights,
    wake_up serves the same greedy answers, and a checkpoint loaded after waking is served."""
    from workers.generator import GeneratorActor

    other = _perturbed_copy(tiny_model, tmp_path / "other")
    spec = EngineSpec(model=str(tiny_model), dtype="float16", max_model_len=256, gpu_memory_utilization=0.3,
                      on_cpu=False, enable_sleep_mode=True)
    engine = GeneratorActor.options(num_gpus=1, num_cpus=0).remote(spec)
    try:
        before = _greedy(engine, tiny_model)
        awake_free = _free_gpu_bytes()
        ray.get(engine.sleep.remote(1), timeout=600)
        asleep_free = _free_gpu_bytes()
        ray.get(engine.wake_up.remote(), timeout=600)
        woken = _greedy(engine, tiny_model)
        swapped = _greedy(engine, other)  # a reload after waking: the round's new checkpoint
        back = _greedy(engine, tiny_model)
    finally:
        ray.kill(engine, no_restart=True)

    # the KV cache alone is most of 0.3 of the GPU; at least 1 GiB of it must come back while asleep
    assert asleep_free - awake_free > 2**30, (awake_free, asleep_free)
    assert woken == before
    assert sum(s != b for s, b in zip(swapped, before)) >= len(PROBLEMS) // 3
    assert back == before
