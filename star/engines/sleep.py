"""colocate: the engines sleep while the round trains on their GPU.

As verl and OpenRLHF do around their training step (OpenRLHF calls "sleep" on every engine
after generating and "wake_up" before the next generation): each engine sleeps (vLLM sleep
mode) before training starts and wakes when training ends, also when training fails, so a
retry or the next phase never meets a sleeping engine. An engine that missed its wake-up
anyway wakes itself before its next batch (star/engines/vllm_engine.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ray.exceptions import RayTaskError

from star.actor_calls import ActorLost, call_with_restarts
from star.errors import StarError, first_line

#: Level 1: weights to CPU memory, KV cache dropped. Level 2 would drop the weights too (less CPU
#: memory), but a round with nothing to train keeps its model and must find the weights again.
SLEEP_LEVEL = 1


class EnginesAwake(StarError):
    """An engine could not be put to sleep, so the trainer would not find its GPU memory free."""


@contextmanager
def engines_asleep(generators: Sequence, *, round_index: int, restart_timeout: float,
                   log: Callable[[str], None]) -> Iterator[None]:
    """Every engine asleep inside the block, every engine woken (or its failure logged) after it."""
    try:
        failed = call_engines(generators, "sleep", SLEEP_LEVEL, restart_timeout=restart_timeout)
        if failed:
            raise EnginesAwake(
                f"round {round_index}: could not put generator(s) {_listed(failed)} to sleep before training; "
                "the trainer shares their GPU and would run out of memory next to an awake engine. The round's "
                "attempts are stored: re-run `star run` with the same run_name, and see the generators' logs")
        yield
    finally:
        for index, reason in call_engines(generators, "wake_up", restart_timeout=restart_timeout).items():
            log(f"round {round_index}: generator {index} did not wake up after training ({reason}); "
                "it wakes itself before its next batch")


def call_engines(generators: Sequence, method: str, *args: Any, restart_timeout: float) -> dict[int, str]:
    """`method(*args)` on every generator at once; {index: reason} of those that failed.

    A generator whose actor died is asked again once Ray has restarted it: a restarted engine
    starts awake, so `sleep` must reach it too. An error raised by the engine itself is not
    retried (it would fail the same way).
    """
    refs = [getattr(generator, method).remote(*args) for generator in generators]
    failed = {}
    for index, (generator, ref) in enumerate(zip(generators, refs)):
        try:
            call_with_restarts(generator, method, *args, tries=2, restart_timeout=restart_timeout, first=ref)
        except RayTaskError as exc:
            failed[index] = _engine_error(exc)
        except ActorLost as lost:
            failed[index] = lost.last
    return failed


def _engine_error(exc: RayTaskError) -> str:
    """The engine's own exception (a RayTaskError's first line only names the call and the process)."""
    cause = exc.cause
    return f"{type(cause).__name__}: {first_line(cause)}" if cause is not None else first_line(exc)


def _listed(failed: dict[int, str]) -> str:
    return "; ".join(f"{index} ({reason})" for index, reason in sorted(failed.items()))
