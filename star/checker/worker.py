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


# Typical answer shapes. ANTLR's parser learns its prediction tables (DFA) as it
# parses and keeps them per process; a cold process parses LaTeX about three
# times slower than a warm one. Parsing these once in the forkserver gives
# every worker, including each replacement of a killed one, warm tables.
_WARM_UP = (
    (r"\frac{3}{4}", r"0.75"),
    (r"-\dfrac{7}{2}", r"-3.5"),
    (r"2\sqrt{3}", r"\sqrt{12}"),
    (r"\frac{\sqrt{5}+1}{2}", r"\frac{1+\sqrt{5}}{2}"),
    (r"3\pi/4", r"\frac{3\pi}{4}"),
    (r"x^2 + 2x + 1", r"(x+1)^2"),
    (r"\sin^2 x + \cos^2 x", r"1"),
    (r"\tan(\theta)", r"\frac{\sin\theta}{\cos\theta}"),
    (r"e^{i\pi}", r"-1"),
    (r"3 - 2i", r"3-2i"),
    (r"\log_2 8", r"3"),
    (r"\ln(e^2)", r"2"),
    (r"5!", r"120"),
    (r"\binom{5}{2}", r"10"),
    (r"|{-3}|", r"3"),
    (r"x = \frac{1}{2}", r"\frac{1}{2}"),
    (r"y = 2x + 3", r"2x - y + 3 = 0"),
    (r"x \le 5", r"5 \ge x"),
    (r"-2 < x \leq 7", r"(-2, 7]"),
    (r"x \in [0, 1)", r"[0,1)"),
    (r"(-\infty, 2) \cup (3, \infty)", r"(-\infty,2)\cup(3,\infty)"),
    (r"\{1, 2, 3\}", r"\{3,2,1\}"),
    (r"\left( 3, \frac{\pi}{2} \right)", r"(3, \frac{\pi}{2})"),
    (r"1 \pm \sqrt{2}", r"1+\sqrt{2}, 1-\sqrt{2}"),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}"),
    (r"\begin{pmatrix} \frac{1}{2} \\ -1 \end{pmatrix}", r"(0.5, -1)"),
    (r"10^{-3}", r"0.001"),
    (r"2^{10}", r"1024"),
    (r"a_1 + a_{10}", r"a_{10} + a_1"),
    (r"f(x) = x^2", r"f(t) = t^2"),
    (r"\text{odd}", r"odd"),
    (r"\text{(C)}", r"C"),
    (r"90^\circ", r"90"),
    (r"25\%", r"25"),
    (r"\$1,\!234.50", r"1234.5"),
    (r"\frac{a+b}{c}", r"\frac{a}{c}+\frac{b}{c}"),
    (r"\sqrt[3]{27}", r"3"),
    (r"\max(2, 3)", r"3"),
    (r"\lfloor 2.5 \rfloor", r"2"),
    (r"\sum_{k=1}^{n} k", r"\frac{n(n+1)}{2}"),
    (r"\left[\begin{array}{cc} 1 & 0 \\ 0 & 1 \end{array}\right]", r"\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}"),
    (r"AB:CD = 2:3", r"2:3"),
    (r"y_{1} = 3x^{2} - 12x + 10", r"3(x-2)^2 - 2"),
    (r"x^{1/3} + \sqrt[3]{x}^2", r"x^{2/3}+x^{1/3}"),
    (r"10^{\frac{1-\sqrt{5}}{2}}", r"10^{(1-\sqrt{5})/2}"),
    (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}"),
)


def _warm_up() -> None:
    for prediction, gold in _WARM_UP:
        judge(f"The answer is $\\boxed{{{prediction}}}$.", gold)


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
    except Exception:  # a checker bug must cost one verdict, not the worker
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
