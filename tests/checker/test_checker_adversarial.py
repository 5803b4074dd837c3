"""Hostile model output and gold fields: no side effects, no crash, no hang.

Every check runs through the real process pool; each verdict must arrive
within timeout + 1 s, be incorrect, and leave the pool working.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from star.checker import Checker, check

TIMEOUT = 2.0
REPO = Path(__file__).resolve().parents[2]


def _injections(marker: Path) -> list[tuple[str, str]]:
    touch = f"__import__('os').system('touch {marker}')"
    return [
        (f"The answer is \\boxed{{{touch}}}", "5"),
        (f"Answer: {touch}", "5"),
        (f"#### {touch}", "5"),
        (f"\\boxed{{\\operatorname{{{touch}}}(1)}}", "5"),
        ("\\boxed{\\input{/etc/passwd}}", "5"),
        (f"\\boxed{{5}} {touch}", touch),  # through the gold field
        ("The answer is 5", f"exec(\"open('{marker}', 'w')\")"),
        (f"\\boxed{{eval(\"open('{marker}','w')\")}}", "5"),
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
        started = time.monotonic()
        verdict = checker.check_many([(prediction, gold)])[0]
        elapsed = time.monotonic() - started
        assert elapsed <= TIMEOUT + 1.0, (prediction[:80], elapsed)
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
        started = time.monotonic()
        verdicts = checker.check_many([slow, ("#### 72", "72"), slow, ("Answer: 5", "5")])
        elapsed = time.monotonic() - started
        assert [v.status for v in verdicts] == ["timeout", "correct", "timeout", "correct"]
        assert verdicts[0].extracted is None
        assert checker.restarts == 2
        assert elapsed < 2 * 1.0 + 4.0
        # Throughput is back to normal after the kills.
        started = time.monotonic()
        assert all(v.correct for v in checker.check_many([("#### 72", "72")] * 500))
        assert time.monotonic() - started < 5.0


def test_check_function_honours_its_timeout() -> None:
    started = time.monotonic()
    verdict = check("\\boxed{(\\sin(x)^2+\\cos(x)^2+x)^{120}}", "(1+x)^{120}", timeout=1.0)
    assert verdict.status == "timeout" and not verdict.correct
    assert time.monotonic() - started <= 1.0 + 1.0 + 2.0  # + first start of the default pool
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
    # Quadratic scans would still be killed at the timeout; they must not get there.
    started = time.monotonic()
    verdicts = pool.check_many([(text, "5") for text in REPEATED])
    assert time.monotonic() - started < 10.0
    assert not any(v.correct for v in verdicts)
    assert "timeout" not in {v.status for v in verdicts}
