"""Generate -> check -> store for one phase, overlapped with `ray.wait`, surviving worker failures.

Requests go to the generation workers in batches (two in flight per worker, so
an engine never waits for the driver); each finished batch goes straight to the
checker, and each scored batch straight to the store. Nothing waits for a whole
phase to finish before the next stage starts.

Failures are the pipeline's business, not Ray's: the actors are restartable
(`max_restarts`) but their calls are never retried by Ray (`max_task_retries=0`),
because only the pipeline knows which batch a call carried, can send it to a
worker that is alive instead of waiting for the dead one's restart, can time out
a hung worker (Ray has no timeout for a running actor call) and can count tries
per batch. When a worker dies or hangs, the batch it was running costs a try and
every batch it held goes back to the queue; the worker is probed with `ready()`
and gets work again once it answers. Each call names the model to serve, so a
restarted worker (whose `__init__` ran again with the base model) loads the
round's weights before its first batch. A re-run batch stores nothing twice:
the store ignores attempts it already has, and per-request seeds regenerate the
same samples.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import ray
from ray.exceptions import RayError, RayTaskError

from star.actor_calls import REPROBE_SECONDS, restart_failed
from star.engines.requests import GenRequest
from star.errors import StarError, first_line
from star.loop.acceptance import CheckItem, ScoredItem
from star.tasks.base import Problem

IN_FLIGHT_PER_GENERATOR = 2
# How long a lost worker's calls get to report a result or an error. Every call of a dead actor does
# resolve (the ones it finished, with their results), so this bound is only reached if Ray itself stalls.
SETTLE_SECONDS = 60.0


class PhaseFailed(StarError):
    """A batch kept failing, or no generation worker is left; the round stays resumable."""


@dataclass(frozen=True)
class Recovery:
    """How hard a phase tries: tries per batch, seconds per batch and per worker restart."""

    batch_tries: int = 3
    batch_timeout: float = 1800.0
    restart_timeout: float = 1800.0
    clock: Callable[[], float] = time.monotonic


@dataclass
class _Batch:
    requests: list[GenRequest]
    tries: int = 0
    check_tries: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Lane:
    """One generator's calls in submission order; an actor runs them one at a time."""

    handle: object
    refs: collections.deque = field(default_factory=collections.deque)
    head_started: float = 0.0
    down_since: float | None = None  # set while the worker is dead or restarting
    gone: bool = False
    gone_reason: str = ""


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
    model: str,
    phase: str = "phase",
    recovery: Recovery = Recovery(),
    on_progress: Callable[[int], None] = lambda n: None,
    log: Callable[[str], None] = lambda message: None,
) -> list[ScoredItem]:
    """Run every request through generation (on `model`), checking and storing; returns all scored items.

    `on_progress(n)` is called with the number of requests whose results were stored; `log`
    gets one line per lost and recovered worker. Raises PhaseFailed when a batch failed `recovery.batch_tries` times or every worker is gone.
    """
    phase_run = _Phase(generators, checker, problems, store_batch, model, phase, recovery, on_progress, log)
    return phase_run.run(chunked(requests, batch_size))


class _Phase:
    def __init__(self, generators: list, checker, problems: dict[int, Problem],
                 store_batch: Callable[[list[ScoredItem]], None], model: str, phase: str,
                 recovery: Recovery, on_progress: Callable[[int], None], log: Callable[[str], None]) -> None:
        self.lanes = [_Lane(handle) for handle in generators]
        self.checker = checker
        self.problems = problems
        self.store_batch = store_batch
        self.model = model
        self.phase = phase
        self.recovery = recovery
        self.on_progress = on_progress
        self.log = log
        self.todo: list[_Batch] = []  # popped from the end
        self.generating: dict[ray.ObjectRef, tuple[_Lane, _Batch]] = {}
        self.checking: dict[ray.ObjectRef, tuple[_Batch, list[CheckItem]]] = {}
        # A probe's target is a generator's lane, or None for the checker.
        self.probing: dict[ray.ObjectRef, _Lane | None] = {}
        self.reprobe: list[tuple[float, _Lane | None]] = []
        self.checker_down_since: float | None = None
        self.check_backlog: list[tuple[_Batch, list[CheckItem]]] = []
        self.scored: list[ScoredItem] = []

    def run(self, batches: list[list[GenRequest]]) -> list[ScoredItem]:
        self.todo = [_Batch(b) for b in reversed(batches)]
        while self.todo or self.generating or self.checking or self.check_backlog:
            self._fill()
            self._start_due_probes()
            if self.todo and not (self.generating or self.probing or self.reprobe or self.checking
                                  or self.check_backlog):
                raise PhaseFailed(self._no_worker_left())
            refs = [*self.generating, *self.checking, *self.probing]
            ready, _ = ray.wait(refs, num_returns=1, timeout=self._wait_seconds()) if refs else ([], [])
            if not refs:
                time.sleep(self._wait_seconds() or 0)
            for ref in ready:
                self._handle(ref)
            self._enforce_deadlines()
        return self.scored

    # --- dispatch ---------------------------------------------------------

    def _fill(self) -> None:
        for lane in self.lanes:
            while self.todo and lane.down_since is None and not lane.gone and len(lane.refs) < IN_FLIGHT_PER_GENERATOR:
                batch = self.todo.pop()
                ref = lane.handle.generate.remote(batch.requests, self.model)
                if not lane.refs:
                    lane.head_started = self.recovery.clock()
                lane.refs.append(ref)
                self.generating[ref] = (lane, batch)

    def _handle(self, ref: ray.ObjectRef) -> None:
        if ref in self.generating:
            self._generated(ref)
        elif ref in self.checking:
            self._checked(ref)
        elif ref in self.probing:
            self._probed(ref)

    def _generated(self, ref: ray.ObjectRef) -> None:
        lane, batch = self.generating.pop(ref)
        try:
            completions = ray.get(ref)
        except RayTaskError as exc:  # the batch raised; the worker itself is fine
            lane.refs.remove(ref)
            lane.head_started = self.recovery.clock()
            self._charge(batch, f"error: {first_line(exc)}")
            self.todo.append(batch)
            return
        except RayError as exc:  # the worker died (process killed, node lost, OOM)
            self.generating[ref] = (lane, batch)
            self._lose_worker(lane, f"worker died: {first_line(exc)}")
            return
        lane.refs.remove(ref)
        lane.head_started = self.recovery.clock()
        self._accept(batch, completions)

    def _accept(self, batch: _Batch, completions: list) -> None:
        self._check(batch, [CheckItem(c, self.problems[c.problem_id]) for c in completions])

    def _check(self, batch: _Batch, items: list[CheckItem]) -> None:
        if self.checker_down_since is not None:  # sent once the restarted checker answers its probe
            self.check_backlog.append((batch, items))
            return
        self.checking[self.checker.score.remote(items)] = (batch, items)

    def _checked(self, ref: ray.ObjectRef) -> None:
        batch, items = self.checking.pop(ref)
        try:
            scored = ray.get(ref)
        except RayError as exc:  # the checker actor died (or its node); Ray restarts it
            batch.check_tries += 1
            batch.errors.append(f"checker: {first_line(exc)}")
            if batch.check_tries >= self.recovery.batch_tries:
                raise PhaseFailed(self._failure_message(batch, "checking")) from None
            self.check_backlog.append((batch, items))
            if self.checker_down_since is None:
                self.checker_down_since = self.recovery.clock()
                self.log(f"{self.phase}: checker lost ({first_line(exc)}); waiting for its restart")
                self._probe(None)
            return
        self.store_batch(scored)
        self.scored.extend(scored)
        self.on_progress(len(batch.requests))

    # --- failures ---------------------------------------------------------

    def _lose_worker(self, lane: _Lane, reason: str) -> None:
        """Every batch it held and did not finish costs a try and is re-queued; probe it."""
        pending = [ref for ref in lane.refs if ref in self.generating]
        lane.refs.clear()
        # Batches it finished before dying still count (their results may not have been
        # handled yet). A finished batch's reply and the news of the death travel separately,
        # so under load the death can arrive first: let every call of the dead worker resolve
        # (each does, with its result or an error) before deciding what it finished.
        ray.wait(pending, num_returns=len(pending), timeout=SETTLE_SECONDS)
        while pending and self._finished(pending[0]):
            ref = pending.pop(0)
            self._accept(self.generating.pop(ref)[1], ray.get(ref))
        held = [self.generating.pop(ref)[1] for ref in pending]
        # Which unfinished batch killed it cannot be told: a batch it finished can lose its reply
        # with the dying process's socket ("the task may or may not have been executed"), and then
        # looks unfinished while the one after it is the culprit. Charging only the first let a batch
        # that killed its worker 3 times run a 4th time; charging each keeps batch_tries a bound.
        for batch in held:
            self._charge(batch, reason)
        self.todo.extend(reversed(held))  # the batch it died on runs first again
        lane.down_since = self.recovery.clock()
        self.log(f"{self.phase}: generation worker {self.lanes.index(lane)} lost ({reason}); "
                 f"{len(held)} batch(es) re-queued")
        self._probe(lane)

    @staticmethod
    def _finished(ref: ray.ObjectRef) -> bool:
        if not ray.wait([ref], timeout=0)[0]:
            return False
        try:
            ray.get(ref)
        except RayError:
            return False
        return True

    def _charge(self, batch: _Batch, reason: str) -> None:
        batch.tries += 1
        batch.errors.append(reason)
        if batch.tries >= self.recovery.batch_tries:
            raise PhaseFailed(self._failure_message(batch, "generation"))

    def _failure_message(self, batch: _Batch, stage: str) -> str:
        ids = sorted({r.problem_id for r in batch.requests})
        shown = ", ".join(map(str, ids[:8])) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
        return (
            f"{self.phase}: {stage} of the batch with problems {shown} failed {len(batch.errors)} times "
            f"(last: {batch.errors[-1]}); attempts stored so far are kept, so re-running `star run` with the "
            "same run_name resumes the round; if this batch keeps failing, look at the worker logs, lower "
            "sampling.batch_problems or raise recovery.batch_timeout / recovery.batch_tries"
        )

    def _probe(self, lane: _Lane | None) -> None:
        self.probing[(self.checker if lane is None else lane.handle).ready.remote()] = lane

    def _probed(self, ref: ray.ObjectRef) -> None:
        lane = self.probing.pop(ref)
        try:
            ray.get(ref)
        except RayError as exc:  # not restarted yet (or the probe met the dead process): ask again soon
            if (error := restart_failed(exc)) is not None:
                self._restart_failed(lane, error)
                return
            self.reprobe.append((self.recovery.clock() + REPROBE_SECONDS, lane))
            return
        if lane is None:
            self.log(f"{self.phase}: checker serves again after {self.recovery.clock() - self.checker_down_since:.1f} s")
            self.checker_down_since = None
            backlog, self.check_backlog = self.check_backlog, []
            for batch, items in backlog:
                self._check(batch, items)
            return
        self.log(f"{self.phase}: generation worker {self.lanes.index(lane)} serves again after "
                 f"{self.recovery.clock() - lane.down_since:.1f} s")
        lane.down_since = None

    def _start_due_probes(self) -> None:
        now = self.recovery.clock()
        due = [lane for at, lane in self.reprobe if at <= now]
        self.reprobe = [(at, lane) for at, lane in self.reprobe if at > now]
        for lane in due:
            self._probe(lane)

    def _enforce_deadlines(self) -> None:
        now = self.recovery.clock()
        if self.checker_down_since is not None and now - self.checker_down_since >= self.recovery.restart_timeout:
            raise PhaseFailed(
                f"{self.phase}: the checker actor did not come back within recovery.restart_timeout="
                f"{self.recovery.restart_timeout:g} s; stored attempts are kept, so fix the cluster and re-run "
                "`star run` with the same run_name to resume"
            )
        for lane in self.lanes:
            if lane.refs and now - lane.head_started >= self.recovery.batch_timeout:
                # Hung: kill it and let Ray restart it (no_restart=False keeps max_restarts in force).
                ray.kill(lane.handle, no_restart=False)
                self._lose_worker(lane, f"timed out after recovery.batch_timeout={self.recovery.batch_timeout:g} s")
            elif lane.down_since is not None and now - lane.down_since >= self.recovery.restart_timeout:
                self._give_up(lane, f"did not come back within recovery.restart_timeout="
                                    f"{self.recovery.restart_timeout:g} s")

    def _restart_failed(self, lane: _Lane | None, error: str) -> None:
        """A restart whose constructor raised is final (Ray will not try again): stop waiting for it now."""
        if lane is None:
            raise PhaseFailed(f"{self.phase}: the checker actor's restart failed: {error}; stored attempts are "
                              "kept, so fix the cause and re-run `star run` with the same run_name to resume")
        self._give_up(lane, f"could not restart: {error}")

    def _give_up(self, lane: _Lane, reason: str) -> None:
        lane.gone = True
        lane.gone_reason = reason
        lane.down_since = None
        self.log(f"{self.phase}: generation worker {self.lanes.index(lane)} {reason}; going on without it")
        self.probing = {r: l for r, l in self.probing.items() if l is not lane}
        self.reprobe = [(at, l) for at, l in self.reprobe if l is not lane]

    def _no_worker_left(self) -> str:
        reasons = sorted({lane.gone_reason for lane in self.lanes if lane.gone_reason})
        why = "; ".join(reasons) or (f"each died and did not come back within recovery.restart_timeout="
                                     f"{self.recovery.restart_timeout:g} s")
        return (f"{self.phase}: no generation worker is left of {len(self.lanes)} ({why}); stored attempts are "
                "kept, so fix the cause (the engine's error, resources, nodes) and re-run `star run` with the "
                "same run_name to resume")

    def _wait_seconds(self) -> float | None:
        """Until the next head-batch deadline, restart deadline or re-probe; None when there is none."""
        now = self.recovery.clock()
        deadlines = [lane.head_started + self.recovery.batch_timeout for lane in self.lanes if lane.refs]
        deadlines += [lane.down_since + self.recovery.restart_timeout for lane in self.lanes
                      if lane.down_since is not None]
        deadlines += [at for at, _ in self.reprobe]
        if self.checker_down_since is not None:
            deadlines.append(self.checker_down_since + self.recovery.restart_timeout)
        return max(0.0, min(deadlines) - now) if deadlines else None
