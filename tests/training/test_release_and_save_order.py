"""Two failure modes of GPU training, tested by their mechanism on CPU.

- A failed training must not keep its model alive through the exception's traceback while the
  trainer gives its GPU memory back (a colocated engine wakes up on that GPU next).
- Under DDP / FSDP the other ranks must not wait in a collective while rank 0 alone writes the
  checkpoint: the step count's all-reduce comes before the save. Run on a real two-process gloo
  group; with the collective after the save, rank 0's save (which here ends only once rank 1 is
  done) and rank 1's all-reduce would wait on each other until the group's timeout.
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import textwrap
import traceback
import weakref
from pathlib import Path

import pytest

from star.training.release import run_releasing

REPO = Path(__file__).resolve().parents[2]


class _Model:
    """Stands in for the model and optimizer state a failed training's frames hold."""


def _train_and_fail(alive: list) -> None:
    model = _Model()
    alive.append(weakref.ref(model))
    raise RuntimeError("CUDA out of memory (while training)")


def test_a_failed_trainings_frames_no_longer_pin_the_model_when_memory_is_released() -> None:
    alive: list = []
    freed: list[bool] = []

    def release() -> None:
        gc.collect()
        freed.append(alive[0]() is None)

    with pytest.raises(RuntimeError, match="out of memory") as caught:
        run_releasing(lambda: _train_and_fail(alive), release)
    assert freed == [True], "the model was still reachable from the exception when memory was released"
    # the report keeps its whole story: every function and line the failure passed through
    text = "".join(traceback.format_exception(caught.value))
    assert "_train_and_fail" in text and 'raise RuntimeError("CUDA out of memory' in text


def test_the_traceback_pinned_the_model_before_its_frames_were_cleared() -> None:
    """Why run_releasing exists: a plain `finally` releases while the frames still hold the model."""
    alive: list = []
    freed: list[bool] = []
    with pytest.raises(RuntimeError):
        try:
            _train_and_fail(alive)
        finally:
            gc.collect()
            freed.append(alive[0]() is None)
    assert freed == [False]


def test_a_success_is_returned_and_released_too() -> None:
    released: list[bool] = []
    assert run_releasing(lambda: 7, lambda: released.append(True)) == 7
    assert released == [True]


_RANK = textwrap.dedent('''
    import os, sys, time
    from datetime import timedelta
    from pathlib import Path
    import torch.distributed as dist
    from star.training.sft import count_then_save
    from star.training.step_examples import StepExamples

    rank, done = int(os.environ["RANK"]), Path(sys.argv[1])
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=timedelta(seconds=60))
    counter = StepExamples()
    counter.per_step = [4, 4] if rank == 0 else [4, 3]

    def save():  # rank 0's long checkpoint write: it ends only once rank 1 has finished its part
        if rank != 0:
            return
        for _ in range(600):
            if done.exists():
                return
            time.sleep(0.1)
        raise SystemExit("rank 1 never finished: it waited in a collective across rank 0's save")

    largest = count_then_save(counter, save)
    if rank == 1:
        done.write_text("done")
    print(f"rank {rank} largest {largest}")
''')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_other_ranks_do_not_wait_in_a_collective_while_rank_0_saves(tmp_path: Path) -> None:
    script = tmp_path / "rank.py"
    script.write_text(_RANK)
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": "2",
           "PYTHONPATH": str(REPO)}
    ranks = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "rank1-done")],
                              env={**env, "RANK": str(rank)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for rank in (0, 1)]
    outputs = [rank.communicate(timeout=300)[0] for rank in ranks]
    assert [rank.returncode for rank in ranks] == [0, 0], outputs
    # the count is the group's: the largest step summed over both ranks (4 + 4), on every rank
    assert "rank 0 largest 8" in outputs[0] and "rank 1 largest 8" in outputs[1]
