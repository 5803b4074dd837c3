"""The CPU trainer actor trains on every core of its node (Ray would give it one)."""

from __future__ import annotations

import os

from star.training.spec import TrainSpec
from workers.trainer import with_cpu_threads


def test_a_cpu_spec_without_threads_gets_every_core_and_an_explicit_count_is_kept() -> None:
    spec = TrainSpec(init_model="m", output_dir="o", examples=[])
    assert with_cpu_threads(spec).num_threads == len(os.sched_getaffinity(0))
    pinned = TrainSpec(init_model="m", output_dir="o", examples=[], num_threads=1)
    assert with_cpu_threads(pinned) is pinned
