"""Each task's work rule and reasoning path (Task.work_refusal, Task.reasoning_path; star/checker/work.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from star.checker.work import ANSWER_FIRST, NO_WORK, NOT_COMPUTED
from star.config.tasks import ArithmeticTaskConfig, GSM8KTaskConfig, MathTaskConfig, MultipleChoiceTaskConfig
from star.tasks import build_task
from star.tasks.arithmetic import ArithmeticTask, render_rationale
from star.tasks.base import Problem

ARITHMETIC = ArithmeticTask(ArithmeticTaskConfig(train_per_digits=2, eval_per_digits=2))
SUM = Problem("4821+397", "4821+397", "5218", {"digits": 4})


def test_the_full_scratchpad_passes() -> None:
    assert ARITHMETIC.work_refusal(render_rationale(4821, 397), SUM) is None
    # a scratchpad with a slip that still reaches the answer does some work: `accept` judges the slip
    slipped = render_rationale(4821, 397).replace("48+3 2+9=11 >18", "48+3 2+9=12 >18")
    assert ARITHMETIC.work_refusal(slipped, SUM) is None


@pytest.mark.parametrize("text, reason", [
    ("Answer: 5218\n", NO_WORK),
    ("The answer is 5218\n", NO_WORK),
    ("5218\n", NO_WORK),
    ("@Raz: 519\n@Raz: 5218\n", NO_WORK),
    ("5,218\n482+39 1+7=8 >8\n48+3 2+9=11 >18\n4+ 8+3+1=12 >218\n+ 4+0+1=5 >5218\nAnswer: 5218", ANSWER_FIRST),
    ("482+39 1+7=8 >8\nAnswer: 5218\n", NOT_COMPUTED),  # one line of work, then the hinted sum
])
def test_bare_or_leading_answers_are_refused(text: str, reason: str) -> None:
    assert ARITHMETIC.work_refusal(text, SUM) == reason


def test_arithmetic_paths_are_the_scratchpad_lines_whitespace_aside() -> None:
    spaced = render_rationale(4821, 397).replace("482+39 1+7=8", "482+39  1+7=8 ")
    assert ARITHMETIC.reasoning_path(spaced, SUM) == ARITHMETIC.reasoning_path(render_rationale(4821, 397), SUM)
    assert ARITHMETIC.reasoning_path("Answer: 5218", SUM) == ""


def test_multiple_choice_uses_the_words_rule_with_its_choices(mc_files: tuple[Path, Path]) -> None:
    task = build_task(MultipleChoiceTaskConfig(train_path=str(mc_files[0]), eval_path=str(mc_files[1]), shots=0))
    problem = next(p for p in task.train_problems() if p.uid == "mc-1")  # milk -> (B) refrigerator
    assert task.work_refusal("A refrigerator keeps milk cold. So the answer is (B).", problem) == NO_WORK
    assert task.work_refusal("Milk spoils when warm, and only a fridge stays cool inside. So the answer is (B).",
                             problem) is None


def test_gsm8k_uses_the_number_rule_and_math_the_text_rule(shared_data: Path) -> None:
    gsm8k = build_task(GSM8KTaskConfig(train_path=str(shared_data / "gsm8k" / "test.jsonl"), held_out_fraction=0.1))
    problem = gsm8k.train_problems()[0]
    assert gsm8k.work_refusal(f"The answer is {problem.gold}.", problem) == NO_WORK
    assert sum(gsm8k.work_refusal(p.rationale, p.problem) is None for p in gsm8k.shots) == len(gsm8k.shots)
    math = build_task(MathTaskConfig(train_path=str(shared_data / "math500" / "test.jsonl"), held_out_fraction=0.2))
    problem = math.train_problems()[0]
    assert math.work_refusal(f"\\boxed{{{problem.gold}}}", problem) == NO_WORK
    assert math.work_refusal(f"We have $(2)(12) = 24$, so \\boxed{{{problem.gold}}}", problem) is None


def test_a_scratchpad_line_counts_by_its_column_sum_spaces_and_running_answer_aside() -> None:
    one_digit = Problem("3+5", "3+5", "8", {"digits": 1})
    assert ARITHMETIC.work_refusal("+ 3+5 = 8 \nAnswer: 8", one_digit) is None
    assert ARITHMETIC.work_refusal("Answer: 8", one_digit) == NO_WORK
    bare_lines = "482+39 1+7=8\n48+3 2+9=11\n4+ 8+3+1=12\n+ 4+0+1=5\nAnswer: 5218"  # no running answers
    assert ARITHMETIC.work_refusal(bare_lines, SUM) is None
    assert ARITHMETIC.work_refusal("16+7=8\nAnswer: 5218", SUM) == NO_WORK  # 6+7 is not a column of it
    assert ARITHMETIC.work_refusal("482+39 1+7=8 >8\n+ 4+0+1=9 >9218\nAnswer: 5218", SUM) == NOT_COMPUTED
    carry = Problem("3+7", "3+7", "10", {"digits": 1})
    assert ARITHMETIC.work_refusal("3+ 7 = 10 >10\nAnswer: 10", carry) is None  # the carry in the same line
    assert ARITHMETIC.work_refusal("3+7 = 10 >0\nAnswer: 10", carry) == NOT_COMPUTED  # the carry never added
    # the last column added right, but its running answer is not the sum the answer line then gives
    mismatched = "106+323 7+4=11 >1\n10+32 6+3+1=10 >01\n+ 1+3=4 >43011\nAnswer: 4301"
    assert ARITHMETIC.work_refusal(mismatched, Problem("1067+3234", "1067+3234", "4301", {})) == NOT_COMPUTED
