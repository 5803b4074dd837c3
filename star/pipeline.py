"""Generate -> check -> store for one phase, overlapped with `ray.wait`.

Requests go to the generation workers in batches (two in flight per worker, so
an engine never waits for the driver); each finished batch goes straight to the
checker pool, and each scored batch straight to the store. Nothing waits for a
whole phase to finish before the next stage starts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ray

from star.generation import GenRequest
from star.tasks.base import Problem
from star.verdicts import CheckItem, ScoredItem

IN_FLIGHT_PER_GENERATOR = 2


def chunked(items: Sequence[GenRequest], size: int) -> list[list[GenRequest]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def run_phase(
    requests: Sequence[GenRequest],
    problems: dict[int, Problem],
    *,
    generators: list,
    checker,
    store_batch: Callable[[list[ScoredItem]], None],
    batch_size: int,
    on_progress: Callable[[int], None] = lambda n: None,
) -> list[ScoredItem]:
    """Run every request through generation, checking and storing; returns all scored items.

    `on_progress(n)` is called with the number of requests whose results were stored.
    """
    todo = chunked(requests, batch_size)
    todo.reverse()  # pop() from the end keeps the original order
    generating: dict[ray.ObjectRef, tuple[object, int]] = {}
    checking: dict[ray.ObjectRef, int] = {}
    scored_all: list[ScoredItem] = []

    def submit(generator) -> None:
        if todo:
            batch = todo.pop()
            generating[generator.generate.remote(batch)] = (generator, len(batch))

    for generator in generators:
        for _ in range(IN_FLIGHT_PER_GENERATOR):
            submit(generator)
    while generating or checking:
        ready, _ = ray.wait(list(generating) + list(checking), num_returns=1)
        ref = ready[0]
        if ref in generating:
            generator, n_requests = generating.pop(ref)
            submit(generator)
            items = [CheckItem(c, problems[c.problem_id]) for c in ray.get(ref)]
            checking[checker.score.remote(items)] = n_requests
        else:
            n_requests = checking.pop(ref)
            scored = ray.get(ref)
            store_batch(scored)
            scored_all.extend(scored)
            on_progress(n_requests)
    return scored_all
