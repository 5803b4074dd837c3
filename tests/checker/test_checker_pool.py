"""The process pool: order, threads, lifecycle, and use from unguarded scripts."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from star.checker import Checker, Verdict

REPO = Path(__file__).resolve().parents[2]


def test_results_keep_input_order(pool: Checker) -> None:
    pairs = [(f"The answer is {i}.", str(i if i % 3 else i + 1)) for i in range(300)]
    verdicts = pool.check_many(pairs)
    assert [v.correct for v in verdicts] == [bool(i % 3) for i in range(300)]
    assert all(isinstance(v, Verdict) for v in verdicts)
    assert pool.check_many([]) == []


def test_missing_prediction_is_no_answer(pool: Checker) -> None:
    assert pool.check_many([(None, "3")])[0].status == "no_answer"  # type: ignore[list-item]
    with pytest.raises(TypeError):
        pool.check_many([(3, "3")])  # type: ignore[list-item]


def test_usable_from_a_thread_like_a_ray_actor(pool: Checker) -> None:
    # No signals are involved, so a non-main thread works (math-verify's do not).
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(pool.check_many([("#### 72", "72")])[0].correct))
    thread.start()
    thread.join(timeout=30)
    assert results == [True]


def test_lifecycle() -> None:
    with pytest.raises(ValueError):
        Checker(workers=0)
    with pytest.raises(ValueError):
        Checker(workers=1, timeout=0)
    checker = Checker(workers=1, timeout=5.0)
    with checker:
        assert checker.check_many([("Answer: 5218", "5218")])[0].correct
    checker.close()  # idempotent
    with pytest.raises(RuntimeError):
        checker.check_many([("1", "1")])


def test_verdict_contract() -> None:
    verdict = Verdict(True, "correct", "72")
    assert verdict.to_dict() == {"correct": True, "status": "correct", "extracted": "72"}
    with pytest.raises(ValueError):
        Verdict(True, "incorrect", None)
    with pytest.raises(ValueError):
        Verdict(False, "maybe", None)  # type: ignore[arg-type]


def test_script_without_main_guard(tmp_path: Path) -> None:
    # Workers must not re-run the caller's script (forkserver/spawn would).
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from star.checker import check\n"
        "print('ran', flush=True)\n"
        "print(check('#### 72', '72').correct, flush=True)\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ran", "True"]
