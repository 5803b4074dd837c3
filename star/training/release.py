"""Giving the GPU memory of a finished or failed training back, before an engine needs it.

The trainer actor outlives each round, and with `colocate` an engine wakes up on the same
GPU right after training. PyTorch's allocator keeps the training peak reserved until
`torch.cuda.empty_cache()`, and that frees only blocks no tensor uses any more.

After a failure that is not enough on its own: the exception's traceback holds every frame
it passed through (train_sft's, the HF Trainer's), and their local variables hold the
model, the optimizer state and the batch. While the exception is alive, which it is
during a `finally` and until Ray has reported it, nothing of those is collectable, so the
engine's wake-up would run out of memory on top of the error. `run_releasing` clears the
finished frames' locals first; the traceback's text (file, line, function) stays whole.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


def clear_exception_frames(exc: BaseException) -> None:
    """Drop the local variables of every finished frame in `exc`'s traceback and in the exceptions
    chained to it (cause, context, an exception group's members). Frames still running (the caller's)
    cannot be cleared and are skipped, as `traceback.clear_frames` does."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        todo += [current.__cause__, current.__context__, *getattr(current, "exceptions", ())]


def run_releasing(work: Callable[[], _T], release: Callable[[], None]) -> _T:
    """`work()`, then `release()` whether it succeeded or failed; a failure's frames are cleared
    before `release` runs, so what they held can be collected, and the failure is raised as it was."""
    try:
        return work()
    except BaseException as exc:
        clear_exception_frames(exc)
        raise
    finally:
        release()


def release_gpu_cache() -> None:
    """Collect what training left (the model and optimizer hold reference cycles) and return the GPU
    memory PyTorch still caches to the device. No GPU: nothing to return."""
    import gc

    import torch

    if torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()
