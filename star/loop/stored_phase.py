"""One phase of a round on the store: run what is not stored yet, re-check check errors, time it.

A phase (generate, rationalize, evaluate) is a list of requests. Those whose
attempts are all stored already are skipped, so a resumed round does only the
work the crashed one did not; the rest go through the pipeline
(star/loop/phase.py), which stores each scored batch as it arrives.
"""

from __future__ import annotations

from star.engines.requests import GenRequest
from star.loop.context import RunContext, recovery_of
from star.loop.phase import run_phase
from star.loop.recheck import recheck_errors
from star.tasks.base import Problem


def run_stored_phase(ctx: RunContext, index: int, model: str, requests: list[GenRequest], *,
                     phase: str, problems: dict[int, Problem] | None = None) -> None:
    """Run the requests whose attempts are not all stored yet (resume), re-check check errors, time it.

    The phase's stored time grows by the time of the work done now: a resumed
    phase with nothing left to do keeps the time it recorded before.
    """
    stored = ctx.store.stored_keys(index)
    todo = [r for r in requests if any((r.problem_id, r.kind, i) not in stored for i in range(r.n))]
    problems = problems or ctx.train
    save_time = ctx.store.phase_clock(index, phase, ctx.clock)
    if todo:
        recorder = ctx.store.recorder(index, task=ctx.task, model=model, write_batch=ctx.config.store.write_batch)
        with ctx.progress.bar(f"round {index}: {phase}", total=len(todo)) as advance:
            def progressed(n: int) -> None:
                advance(n)
                save_time()  # a driver killed mid-phase keeps the time spent so far
            run_phase(todo, problems, generators=ctx.workers.generators, checker=ctx.workers.checker,
                      store_batch=recorder, batch_size=ctx.config.sampling.batch_problems, model=model,
                      phase=f"round {index} {phase}", recovery=recovery_of(ctx.config), on_progress=progressed,
                      log=ctx.progress.log)
    rechecked, left = recheck_errors(ctx.store, ctx.workers.checker, round_index=index,
                                     kinds=tuple(sorted({r.kind for r in requests})), problems=problems,
                                     timeout=ctx.config.checker.recheck_seconds,
                                     tries=ctx.config.recovery.batch_tries,
                                     restart_timeout=ctx.config.recovery.restart_timeout)
    if rechecked:
        ctx.log(index, f"{phase}: re-checked {rechecked} timed-out or crashed checks, "
                       f"{left} still failing (counted as check errors)")
    if todo or rechecked:
        save_time()
