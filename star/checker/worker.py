"""The checker worker process: read (id, prediction, gold), answer a verdict.

Workers are started by star.checker.pool from a forkserver that preloads this
module, so a replacement for a killed worker is a cheap fork of a process that
already imported sympy and the LaTeX grammar, not a fresh interpreter. Nothing
here uses signals: the parent enforces the timeout by killing the process.
"""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Connection

from star.checker.core import judge

Task = tuple[int, str, str]
Reply = tuple[int, bool, str, "str | None"]


def _warm_up() -> None:
    # The first parse pays for building the ANTLR lexer/parser tables and
    # sympy's caches; pay it once in the forkserver, not in every worker.
    judge("The answer is $\\frac{1}{2}$ and \\boxed{x = 0.5}", "1/2")


def limit_memory(megabytes: int | None) -> None:
    """Cap this process's address space so a runaway allocation is a
    MemoryError (reported as unparseable), not the machine's OOM killer."""
    if not megabytes or not sys.platform.startswith("linux"):
        return
    import resource

    with open(f"/proc/{os.getpid()}/statm") as statm:
        current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = current + megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def reply_for(task: Task) -> Reply:
    task_id, prediction, gold = task
    try:
        verdict = judge(prediction, gold)
    except (MemoryError, RecursionError):
        return task_id, False, "unparseable", None
    return task_id, verdict.correct, verdict.status, verdict.extracted


def serve(conn: Connection, memory_limit_mb: int | None) -> None:
    """Worker main loop; ends when the parent sends None or goes away."""
    limit_memory(memory_limit_mb)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(reply_for(task))


_warm_up()
