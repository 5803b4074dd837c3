"""Count the examples each optimizer step actually saw, over every training process.

`batch_size` is meant as examples per optimizer step whatever the number of
workers and the micro-batch; this measures it instead of trusting the
arithmetic (per-device batch x accumulation x workers) that sets it up.
"""

from __future__ import annotations

from typing import Any


class StepExamples:
    """Attached to an HF Trainer: rows fed to forward/backward, grouped by optimizer step."""

    def __init__(self, trainer=None) -> None:
        self.current = 0
        self.per_step: list[int] = []
        if trainer is not None:
            self.attach(trainer)

    def attach(self, trainer) -> None:
        """Count the rows of every training step of `trainer` from now on."""
        from transformers import TrainerCallback

        counter = self

        class _OnStepEnd(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs: Any):
                counter.per_step.append(counter.current)
                counter.current = 0

        step = trainer.training_step

        def counted(model, inputs, *args, **kwargs):
            counter.current += int(inputs["input_ids"].shape[0])
            return step(model, inputs, *args, **kwargs)

        trainer.training_step = counted
        trainer.add_callback(_OnStepEnd())

    def largest_step(self) -> int | None:
        """The most examples one optimizer step saw, summed over the process group (the last
        step of an epoch may see fewer); None before any step.

        A collective: every rank of a group must call it, and before rank 0 alone saves the
        checkpoint (star/training/sft.py: count_then_save), or the other ranks would wait in this
        all-reduce for the whole save, past the process group's timeout (Ray Train: 1,800 s).
        """
        totals = _sum_over_processes(self.per_step)
        return max(totals) if totals else None


def _sum_over_processes(values: list[int]) -> list[int]:
    """`values` summed elementwise over the torch process group (every rank takes the same
    number of steps), or themselves in one process."""
    import torch
    import torch.distributed as dist

    if not values or not (dist.is_available() and dist.is_initialized()):
        return values
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    totals = torch.tensor(values, dtype=torch.long, device=device)
    dist.all_reduce(totals)
    return [int(v) for v in totals.tolist()]
