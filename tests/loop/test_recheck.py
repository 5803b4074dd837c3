"""Checker timeouts and crashes are stored as such, re-checked once, and counted as check errors.

Real sympy checks in the real checker actor and pool; a scripted generator
stands in for vLLM (what is generated does not matter here, only how it is judged).
"""

from __future__ import annotations

import io
import re
import threading
import time

import pytest
from rich.console import Console
from sqlalchemy import select

import db.store as store
from db.models import Attempt
from db.summaries import round_summaries
from star.checker import Checker
from star.loop import rounds
from star.progress import Progress
from star.report.table import round_table
from workers.checker_pool import CheckerActor

# sympy proves each equal: ~0.6 s for ^20, ~40 s for ^120 (tests/checker shows the latter)
SLOW = "\\boxed{(\\sin(x)^2+\\cos(x)^2+x)^{20}}"
VERY_SLOW = "\\boxed{(\\sin(x)^2+\\cos(x)^2+x)^{120}}"


@pytest.mark.slow  # real Ray actors
def test_timeouts_are_rechecked_with_a_longer_timeout_and_the_rest_count_as_check_errors(
    tmp_path, ray_session, latex_config, make_context, scripted_generator
):
    config = latex_config(tmp_path, ["(1+x)^{20}", "(1+x)^{120}", "72"],
                          checker={"workers": 1, "timeout": 0.1, "recheck_timeout": 8.0})
    ctx = make_context(config, generators=[], checker=None)
    by_gold = {"(1+x)^{20}": SLOW, "(1+x)^{120}": VERY_SLOW, "72": "so the answer is \\boxed{5}"}
    texts = {pid: by_gold[p.gold] for pid, p in ctx.train.items()}
    generator = scripted_generator.options(num_cpus=0).remote(texts)
    checker = CheckerActor.options(num_cpus=0).remote(1, 0.1, ctx.task, "answer")
    ctx.workers.generators, ctx.workers.checker = [generator], checker
    slow_id, very_slow_id, wrong_id = (next(pid for pid, p in ctx.train.items() if p.gold == gold)
                                       for gold in by_gold)

    log = io.StringIO()
    ctx.progress = Progress(Console(file=log, width=300), enabled=True)

    accepted = rounds.generate_direct(ctx, 1, "m0")
    assert accepted == {slow_id}  # resolved by the re-check, so it is not sent to rationalization
    # both slow checks overran 0.1 s at first; one was resolved by the re-check
    # (the quick wrong answer may overrun 0.1 s too on a loaded machine; then it is re-checked as well)
    assert re.search(r"generate: re-checked [23] timed-out or crashed checks, 1 still failing", log.getvalue())

    with ctx.sessions() as session:
        rows = {a.problem_id: a for a in session.scalars(select(Attempt))}
    assert (rows[slow_id].status, rows[slow_id].correct, rows[slow_id].accepted) == ("correct", True, True)
    assert rows[slow_id].extracted is not None
    # killed at the 8 s re-check timeout (proving it takes ~40 s), so it stays a timeout, not a verdict
    assert (rows[very_slow_id].status, rows[very_slow_id].correct) == ("timeout", False)
    assert (rows[wrong_id].status, rows[wrong_id].extracted) == ("incorrect", "5")  # untouched

    rounds.finish_round(ctx, 1, model_in="m0", model_out="m0", counts={"attempted": 3})
    with ctx.sessions() as session:
        summaries = round_summaries(session, store.get_run(session, "fault"))
    assert [s["check_errors"] for s in summaries] == [1]
    table = round_table(summaries, "t")
    assert [c.header for c in table.columns].index("check err.") == 4
    assert list(table.columns[4].cells) == ["1"]


@pytest.mark.slow  # real Ray
def test_a_round_without_check_errors_reports_zero(tmp_path, ray_session, latex_config, make_context):
    config = latex_config(tmp_path, ["1"])
    ctx = make_context(config, generators=[], checker=None)
    rounds.finish_round(ctx, 1, model_in="m0", model_out="m0", counts={})
    with ctx.sessions() as session:
        assert round_summaries(session, store.get_run(session, "fault"))[0]["check_errors"] == 0


def test_a_worker_that_dies_mid_check_is_a_crash_not_a_wrong_answer() -> None:
    with Checker(workers=1, timeout=60.0) as pool:
        verdicts: list = []
        thread = threading.Thread(target=lambda: verdicts.extend(
            pool.check_many([(VERY_SLOW, "(1+x)^{120}"), ("#### 72", "72")])))
        thread.start()
        deadline = time.monotonic() + 30
        while not pool._workers[0].inflight and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # inside sympy by now
        pool._workers[0].process.kill()  # as the OS's OOM killer would
        thread.join(timeout=60)
    assert [(v.status, v.correct) for v in verdicts] == [("crashed", False), ("correct", True)]
