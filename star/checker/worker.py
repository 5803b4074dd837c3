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
    ("\\frac{3}{4}", "0.75"), ("-\\dfrac{7}{2}", "-3.5"), ("2\\sqrt{3}", "\\sqrt{12}"),
    ("\\frac{\\sqrt{5}+1}{2}", "\\frac{1+\\sqrt{5}}{2}"), ("3\\pi/4", "\\frac{3\\pi}{4}"),
    ("x^2 + 2x + 1", "(x+1)^2"), ("\\sin^2 x + \\cos^2 x", "1"), ("\\tan(\\theta)", "\\frac{\\sin\\theta}{\\cos\\theta}"),
    ("e^{i\\pi}", "-1"), ("3 - 2i", "3-2i"), ("\\log_2 8", "3"), ("\\ln(e^2)", "2"), ("5!", "120"),
    ("\\binom{5}{2}", "10"), ("|{-3}|", "3"), ("x = \\frac{1}{2}", "\\frac{1}{2}"), ("y = 2x + 3", "2x - y + 3 = 0"),
    ("x \\le 5", "5 \\ge x"), ("-2 < x \\leq 7", "(-2, 7]"), ("x \\in [0, 1)", "[0,1)"),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2)\\cup(3,\\infty)"), ("\\{1, 2, 3\\}", "\\{3,2,1\\}"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\frac{\\pi}{2})"), ("1 \\pm \\sqrt{2}", "1+\\sqrt{2}, 1-\\sqrt{2}"),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}"),
    ("\\begin{pmatrix} \\frac{1}{2} \\\\ -1 \\end{pmatrix}", "(0.5, -1)"), ("10^{-3}", "0.001"), ("2^{10}", "1024"),
    ("a_1 + a_{10}", "a_{10} + a_1"), ("f(x) = x^2", "f(t) = t^2"), ("\\text{odd}", "odd"), ("\\text{(C)}", "C"),
    ("90^\\circ", "90"), ("25\\%", "25"), ("\\$1,\\!234.50", "1234.5"), ("\\frac{a+b}{c}", "\\frac{a}{c}+\\frac{b}{c}"),
    ("\\sqrt[3]{27}", "3"), ("\\max(2, 3)", "3"), ("\\lfloor 2.5 \\rfloor", "2"), ("\\sum_{k=1}^{n} k", "\\frac{n(n+1)}{2}"),
    ("\\left[\\begin{array}{cc} 1 & 0 \\\\ 0 & 1 \\end{array}\\right]", "\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}"),
    ("AB:CD = 2:3", "2:3"), ("y_{1} = 3x^{2} - 12x + 10", "3(x-2)^2 - 2"), ("x^{1/3} + \\sqrt[3]{x}^2", "x^{2/3}+x^{1/3}"),
    ("10^{\\frac{1-\\sqrt{5}}{2}}", "10^{(1-\\sqrt{5})/2}"), ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),
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
