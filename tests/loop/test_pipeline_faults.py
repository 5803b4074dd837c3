"""The pipeline's bookkeeping when generation workers die, hang or fail a batch.

Fake generator and checker actors (real Ray actors, restartable as in a run)
stand in for vLLM and sympy: these tests are about which batch goes where and
what reaches the store, not about generating. Their failures are planned with
files in a folder, which survive the actor's restart the way a bad input
survives a restart of a real engine.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest
import ray

from star.engines.requests import Completion, GenRequest
from star.loop.acceptance import CheckItem, ScoredItem
from star.loop.phase import PhaseFailed, Recovery, run_phase
from star.tasks.base import Problem

pytestmark = pytest.mark.slow  # real Ray actors (fakes for the workers)

RESTARTABLE = {"num_cpus": 0, "max_restarts": -1, "max_task_retries": 0}
N_PROBLEMS, K = 20, 2


@ray.remote
class FakeGenerator:
    """Writes `<model>|<problem>|<sample>`; fails as the plan folder says, once per plan count."""

    def __init__(self, plan: str) -> None:
        self.plan = Path(plan)
        if ray.get_runtime_context().was_current_actor_reconstructed and _take(self.plan / "restart-fails"):
            raise RuntimeError("planned: the engine cannot start on this node")

    def ready(self) -> bool:
        return True

    def generate(self, requests: list[GenRequest], model: str) -> list[Completion]:
        for request in requests:
            for action in ("die", "hang", "raise"):
                if _take(self.plan / f"{action}-{request.problem_id}"):
                    if action == "die":
                        os._exit(1)  # as a killed process: no exception, no cleanup
                    if action == "hang":
                        time.sleep(3600)
                    raise ValueError(f"planned failure on problem {request.problem_id}")
        return [Completion(r.problem_id, r.kind, i, r.prompt, f"{model}|{r.problem_id}|{i}", 1, 1, True)
                for r in requests for i in range(r.n)]


@ray.remote
class FakeChecker:
    def __init__(self, plan: str) -> None:
        self.plan = Path(plan)
        if ray.get_runtime_context().was_current_actor_reconstructed and _take(self.plan / "checker-restart-fails"):
            raise RuntimeError("planned: the checker cannot start")

    def ready(self) -> bool:
        return True

    def score(self, items: list[CheckItem]) -> list[ScoredItem]:
        if any(_take(self.plan / f"checker-die-{item.problem.uid}") for item in items):
            os._exit(1)
        return [ScoredItem(i.completion, i.problem, "correct", True, "x", None, True) for i in items]


def _take(marker: Path) -> bool:
    """Use up one planned failure (the file holds how many are left)."""
    if not marker.exists():
        return False
    left = int(marker.read_text())
    if left <= 0:
        return False
    marker.write_text(str(left - 1))
    return True


def _plan(folder: Path, **counts: int) -> str:
    folder.mkdir(exist_ok=True)
    for name, count in counts.items():
        (folder / name.replace("_", "-")).write_text(str(count))
    return str(folder)


def _requests() -> tuple[list[GenRequest], dict[int, Problem]]:
    problems = {pid: Problem(str(pid), f"q{pid}", str(pid)) for pid in range(N_PROBLEMS)}
    requests = [GenRequest(pid, "direct", f"q{pid}", K, 0.8, 1.0, 8, (), pid) for pid in problems]
    return requests, problems


def _run(plan: str, *, generators: int = 2, recovery: Recovery = Recovery(), logs: list[str] | None = None):
    requests, problems = _requests()
    gens = [FakeGenerator.options(**RESTARTABLE).remote(plan) for _ in range(generators)]
    checker = FakeChecker.options(**RESTARTABLE).remote(plan)
    stored: list[tuple[int, str, int]] = []
    progressed: list[int] = []
    try:
        run_phase(requests, problems, generators=gens, checker=checker,
                  store_batch=lambda items: stored.extend(
                      (i.completion.problem_id, i.completion.text, i.completion.sample_index) for i in items),
                  batch_size=2, model="round-1", phase="round 1 generate", recovery=recovery,
                  on_progress=progressed.append, log=(logs if logs is not None else []).append)
    finally:
        for actor in [*gens, checker]:
            ray.kill(actor, no_restart=True)
    return stored, progressed


def _assert_each_stored_once(stored: list[tuple[int, str, int]], progressed: list[int]) -> None:
    counts = Counter((pid, idx) for pid, _, idx in stored)
    assert set(counts) == {(pid, i) for pid in range(N_PROBLEMS) for i in range(K)}
    assert max(counts.values()) == 1, [key for key, n in counts.items() if n > 1]
    assert sum(progressed) == N_PROBLEMS
    # every sample came from the phase's model, restarted workers included
    assert {text.split("|")[0] for _, text, _ in stored} == {"round-1"}


def test_dead_workers_batches_go_elsewhere_and_each_result_is_stored_once(tmp_path, ray_session):
    logs: list[str] = []
    plan = _plan(tmp_path / "plan", die_3=1, die_11=1, raise_15=1, checker_die_6=1)
    stored, progressed = _run(plan, logs=logs)
    _assert_each_stored_once(stored, progressed)
    assert sum("lost (worker died" in line for line in logs) == 2, logs
    # the phase does not wait for a restart it no longer needs, so one of them may still be restarting
    assert sum("serves again" in line for line in logs) >= 1, logs
    assert all(int(f.read_text()) == 0 for f in (tmp_path / "plan").iterdir())  # every planned failure happened


def test_a_batch_failing_three_times_fails_the_phase_with_a_clear_error(tmp_path, ray_session):
    plan = _plan(tmp_path / "plan", die_9=3)
    with pytest.raises(PhaseFailed) as failed:
        _run(plan)
    message = str(failed.value)
    assert "round 1 generate: generation of the batch with problems 8, 9 failed 3 times" in message
    assert "worker died" in message and "same run_name resumes" in message


def test_a_hung_batch_is_timed_out_and_requeued(tmp_path, ray_session):
    logs: list[str] = []
    plan = _plan(tmp_path / "plan", hang_4=1)
    stored, progressed = _run(plan, recovery=Recovery(batch_timeout=3.0), logs=logs)
    _assert_each_stored_once(stored, progressed)
    # the hung worker (it sleeps an hour) was killed at the batch timeout and its batch re-run elsewhere
    assert any("timed out after recovery.batch_timeout=3 s" in line for line in logs), logs


def test_without_any_worker_left_the_phase_fails_instead_of_waiting(tmp_path, ray_session):
    requests, problems = _requests()
    plan = _plan(tmp_path / "plan")
    generator = FakeGenerator.options(**RESTARTABLE).remote(plan)
    checker = FakeChecker.options(**RESTARTABLE).remote(plan)
    ray.get(generator.ready.remote())
    ray.kill(generator, no_restart=True)  # gone for good, as with max_restarts used up
    with pytest.raises(PhaseFailed, match="no generation worker is left"):
        run_phase(requests, problems, generators=[generator], checker=checker, store_batch=lambda items: None,
                  batch_size=2, model="m", recovery=Recovery(batch_tries=100, restart_timeout=3.0))
    ray.kill(checker, no_restart=True)


@pytest.mark.timeout(600)  # were the failed restart waited for, the phase would sit out restart_timeout (30 min)
def test_a_worker_whose_restart_raises_fails_the_phase_with_its_own_error_not_after_the_timeout(tmp_path,
                                                                                                ray_session):
    logs: list[str] = []
    plan = _plan(tmp_path / "plan", die_3=1, restart_fails=1)
    with pytest.raises(PhaseFailed) as failed:
        _run(plan, generators=1, recovery=Recovery(batch_tries=100, restart_timeout=1800.0), logs=logs)
    message = str(failed.value)
    assert "no generation worker is left of 1" in message
    assert "could not restart: RuntimeError: planned: the engine cannot start on this node" in message
    assert any("generation worker 0 could not restart" in line for line in logs), logs
    assert (tmp_path / "plan" / "restart-fails").read_text() == "0"  # the planned failure happened


@pytest.mark.timeout(600)
def test_a_checker_whose_restart_raises_fails_the_phase_with_its_own_error(tmp_path, ray_session):
    plan = _plan(tmp_path / "plan", checker_die_6=1, checker_restart_fails=1)
    with pytest.raises(PhaseFailed) as failed:
        _run(plan, recovery=Recovery(batch_tries=100, restart_timeout=1800.0))
    assert "the checker actor's restart failed: RuntimeError: planned: the checker cannot start" in str(failed.value)
