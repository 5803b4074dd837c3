"""One helper for "call an actor that may have died": the checker re-check, the trainer and the engines use it.

Real restartable Ray actors that die (os._exit) on chosen calls; slow only because they need Ray.
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.slow


def _flaky_actor(deaths: int):
    import ray

    @ray.remote(max_restarts=5, max_task_retries=0)
    class Flaky:
        """Dies on its first `deaths` calls of `work` (counted in a file, which outlives the process)."""

        def __init__(self, counter: str) -> None:
            self.counter = counter

        def ready(self) -> bool:
            return True

        def work(self, value: int) -> int:
            calls = int(open(self.counter).read() or 0) + 1
            open(self.counter, "w").write(str(calls))
            if calls <= deaths:
                os._exit(1)
            return value * 2

        def fail(self) -> None:
            raise ValueError("the call itself is wrong")

    return Flaky


def test_a_death_is_retried_on_the_restarted_actor(ray_session, tmp_path) -> None:
    from star.actor_calls import call_with_restarts

    counter = tmp_path / "calls"
    counter.write_text("")
    actor = _flaky_actor(deaths=1).remote(str(counter))
    deaths: list[str] = []
    assert call_with_restarts(actor, "work", 21, tries=2, restart_timeout=120, on_death=deaths.append) == 42
    assert len(deaths) == 1 and counter.read_text() == "2"


def test_an_actor_that_keeps_dying_is_reported_with_every_reason(ray_session, tmp_path) -> None:
    from star.actor_calls import ActorLost, call_with_restarts

    counter = tmp_path / "calls"
    counter.write_text("")
    actor = _flaky_actor(deaths=3).remote(str(counter))
    with pytest.raises(ActorLost) as lost:
        call_with_restarts(actor, "work", 1, tries=3, restart_timeout=120)
    assert len(lost.value.reasons) == 3 and counter.read_text() == "3"


def test_a_call_that_raises_is_not_repeated(ray_session, tmp_path) -> None:
    import ray

    from star.actor_calls import call_with_restarts

    actor = _flaky_actor(deaths=0).remote(str(tmp_path / "unused"))
    first = actor.fail.remote()
    with pytest.raises(ray.exceptions.RayTaskError, match="the call itself is wrong"):
        call_with_restarts(actor, "fail", tries=3, restart_timeout=120, first=first)


@pytest.mark.timeout(600)  # waiting for the restart would sit out restart_timeout (30 min)
def test_an_actor_whose_restart_raises_is_lost_at_once_with_the_constructors_error(ray_session, tmp_path) -> None:
    import ray

    from star.actor_calls import ActorLost, call_with_restarts

    @ray.remote(max_restarts=-1, max_task_retries=0)
    class BreaksOnRestart:
        def __init__(self) -> None:
            if ray.get_runtime_context().was_current_actor_reconstructed:
                raise MemoryError("planned: no memory left for the engine")

        def ready(self) -> bool:
            return True

        def work(self) -> None:
            os._exit(1)

    actor = BreaksOnRestart.remote()
    with pytest.raises(ActorLost) as lost:
        call_with_restarts(actor, "work", tries=3, restart_timeout=1800)
    assert lost.value.last == "its restart failed: MemoryError: planned: no memory left for the engine"
    assert len(lost.value.reasons) == 2  # the death, then the failed restart: no third try
