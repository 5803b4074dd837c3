"""`star db check`'s rules that need no database: the task-independent hint rule on real tasks'
prompts, and the names star and db/ must agree on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from db.check_attempts import is_hint_removal
from db.check_rounds import CHECK_ERROR_STATUSES
from db.check_samples import expected_samples
from star.checker.verdict import CHECK_ERRORS
from star.config.tasks import ArithmeticTaskConfig, GSM8KTaskConfig
from star.tasks import build_task


def _real_tasks() -> list[Any]:
    data = Path(__file__).resolve().parents[1] / "data" / "gsm8k"
    return [build_task(ArithmeticTaskConfig(train_per_digits=5, eval_per_digits=1, shots=4)),
            build_task(GSM8KTaskConfig(train_path=str(data / "train.jsonl"), eval_path=str(data / "test.jsonl"),
                                       train_size=20, eval_size=5))]


def test_the_hint_rule_accepts_every_real_removal_and_refuses_leftovers() -> None:
    """Real tasks' hinted prompts: the task's own removal passes (arithmetic: one piece; GSM8K: a hint
    in each of 8 worked examples and the question); a prompt left hinted or cut elsewhere does not."""
    for task in _real_tasks():
        for problem in task.train_problems()[:10]:
            hinted = task.hinted_prompt(problem)
            removed = task.remove_hint(hinted, problem)
            assert is_hint_removal(hinted, removed), problem.uid
            assert not is_hint_removal(hinted, hinted)
            assert not is_hint_removal(hinted, removed + "x")  # text added
            assert not is_hint_removal(hinted, removed.replace("Q", "q", 1))  # text changed
    assert not is_hint_removal("Q: 1+10 (hint: 11)\n", "Q: 1+10 (hint: 1)\n")  # a piece of the hint left behind
    # One of two marks taken out leaves the other, the same text, behind (either one).
    assert not is_hint_removal("x (CORRECT)\ny (CORRECT)\n", "x (CORRECT)\ny\n")
    assert not is_hint_removal("x (CORRECT)\ny (CORRECT)\n", "x\ny (CORRECT)\n")
    assert is_hint_removal("x (CORRECT)\ny (CORRECT)\n", "x\ny\n")


def test_check_error_statuses_are_the_checkers() -> None:
    assert CHECK_ERROR_STATUSES == CHECK_ERRORS


def test_the_samples_a_config_fixes() -> None:
    config = {"sampling": {"samples_per_problem": 4, "allocation": "frontier"},
              "rationalization": {"samples_per_problem": 2}, "evaluation": {"samples": 8}}
    assert expected_samples(config) == ({"eval": 1, "direct": 4, "rationalized": 2, "eval_sample": 8}, False)
    assert expected_samples({"sampling": {"samples_per_problem": 3}}) == ({"eval": 1, "direct": 3}, True)
    assert expected_samples(None) == ({"eval": 1}, True)
