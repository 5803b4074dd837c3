"""Hostile model output and gold fields: no side effects, no crash, no hang.

Every check runs through the real process pool; each verdict must arrive, be
incorrect, and leave the pool working. The checker's own per-check timeout is
what bounds a check (a killed check reports status "timeout"); the tests assert
that status and the pool's restart count, never wall-clock time, and a
generous pytest timeout only guards against a hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from star.checker import Checker, check

#: a hang guard for one test (seconds), far above what a bounded check takes; not a speed target
HANG_GUARD = 300
pytestmark = pytest.mark.timeout(HANG_GUARD)
REPO = Path(__file__).resolve().parents[2]


#: the gold answer of the injections that carry the marker's path; not a plain integer, because the path
#: has numbers in it (pytest's /tmp/pytest-of-root/pytest-5/...) that an extractor may rightly read as the
#: answer: with gold "5", the run numbered 5 failed
PATH_SAFE_GOLD = "-0.125"


def _injections(marker: Path) -> list[tuple[str, str]]:
    touch = f"__import__('os').system('touch {marker}')"
    return [
        (f"The answer is \\boxed{{{touch}}}", PATH_SAFE_GOLD),
        (f"Answer: {touch}", PATH_SAFE_GOLD),
        (f"#### {touch}", PATH_SAFE_GOLD),
        (f"\\boxed{{\\operatorname{{{touch}}}(1)}}", PATH_SAFE_GOLD),
        ("\\boxed{\\input{/etc/passwd}}", "5"),
        (f"\\boxed{{5}} {touch}", touch),  # through the gold field
        ("The answer is 5", f"exec(\"open('{marker}', 'w')\")"),
        (f"\\boxed{{eval(\"open('{marker}','w')\")}}", PATH_SAFE_GOLD),
    ]


BOMBS = [
    "\\boxed{2^{2^{2^{2^{2^{2}}}}}}",
    "\\boxed{9^{9^{9^{9}}}}",
    "\\boxed{10^{10^{100}}}",
    "\\boxed{(10^{10})!}",
    "\\boxed{100000!}",
    "\\boxed{\\operatorname{eye}(100000)}",
    "\\boxed{\\begin{pmatrix}1&1\\\\1&1\\end{pmatrix}^{1000000}}",
    "\\boxed{" + "9" * 5000 + "}",
    "\\boxed{\\frac{1}{0}}",
    "Answer: " + "2^" * 3000 + "2",
]
DEEP = [
    "\\boxed{" + "(" * 5000 + "1" + ")" * 5000 + "}",
    "\\boxed{" + "\\frac{1}{" * 300 + "1" + "}" * 300 + "}",
    "\\boxed{" + "{" * 10000,
    "}" * 10000 + "\\boxed{5",
    "\\boxed{1 + {2",
    "$" * 100000,
]
HUGE = [
    "a" * 2_000_000 + " 5",
    "1+" * 1_000_000 + "1",
    "\\boxed{" + "9" * 2_000_000 + "}",
    ("The answer is \\boxed{7}. " * 80_000)[:2_000_000],
]


def _assert_contained(checker: Checker, pairs: list[tuple[str, str]]) -> None:
    for prediction, gold in pairs:
        verdict = checker.check_many([(prediction, gold)])[0]
        assert not verdict.correct, (prediction[:80], verdict)
    assert checker.check_many([("\\boxed{\\frac{1}{2}}", "0.5")])[0].correct


def test_code_injection_has_no_side_effect(pool: Checker, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _assert_contained(pool, _injections(marker))
    assert not marker.exists()


def test_evaluation_bombs_are_bounded(pool: Checker) -> None:
    _assert_contained(pool, [(bomb, "5") for bomb in BOMBS])


def test_deep_nesting_and_unbalanced_braces(pool: Checker) -> None:
    _assert_contained(pool, [(text, "5") for text in DEEP])


def test_megabyte_outputs(pool: Checker) -> None:
    _assert_contained(pool, [(text, "6") for text in HUGE])


def test_slow_simplification_is_killed_and_the_pool_recovers() -> None:
    # Equal, but sympy needs ~40 s to prove it; the worker is killed at 1 s.
    slow = ("\\boxed{(\\sin(x)^2+\\cos(x)^2+x)^{120}}", "(1+x)^{120}")
    with Checker(workers=1, timeout=1.0) as checker:
        verdicts = checker.check_many([slow, ("#### 72", "72"), slow, ("Answer: 5", "5")])
        assert [v.status for v in verdicts] == ["timeout", "correct", "timeout", "correct"]
        assert verdicts[0].extracted is None
        assert checker.restarts == 2
        # The restarted worker serves a normal load without another kill.
        assert all(v.correct for v in checker.check_many([("#### 72", "72")] * 500))
        assert checker.restarts == 2


def test_check_function_honours_its_timeout() -> None:
    # sympy needs ~40 s for this one; only the 1 s timeout can make the verdict "timeout"
    verdict = check("\\boxed{(\\sin(x)^2+\\cos(x)^2+x)^{120}}", "(1+x)^{120}", timeout=1.0)
    assert verdict.status == "timeout" and not verdict.correct
    assert check("#### 72", "72").correct


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="the memory cap is Linux-only")
def test_worker_memory_cap_turns_a_runaway_allocation_into_memory_error() -> None:
    code = (
        "from star.checker.worker import limit_memory\n"
        "limit_memory(64)\n"
        "try:\n    block = bytearray(1024 * 1024 * 1024)\nexcept MemoryError:\n    print('capped')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.stdout.strip() == "capped", result.stderr


REPEATED = [
    "\\[" * 30_000,
    "\\(" * 30_000,
    "\\boxed{" * 20_000,
    "answer is " * 10_000,
    "#### " * 20_000,
    "\\boxed{1} " * 20_000,
    "$a" * 40_000,
    "\\left(" * 20_000,
]


def test_repeated_markers_are_scanned_in_linear_time(pool: Checker) -> None:
    # Quadratic scans would be killed at the pool's timeout; they must not get there.
    verdicts = pool.check_many([(text, "5") for text in REPEATED])
    assert not any(v.correct for v in verdicts)
    assert "timeout" not in {v.status for v in verdicts}
