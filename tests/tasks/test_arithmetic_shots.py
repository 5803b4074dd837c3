"""Few-shot arithmetic prompts: worked examples, hint only on the asked question, exact hint removal."""

from __future__ import annotations

import pytest

from star.config.tasks import ArithmeticTaskConfig
from star.errors import ConfigError
from star.tasks.arithmetic import (
    SHOT_STOP,
    ArithmeticTask,
    parse_operands,
    render_hinted_prompt,
    render_prompt,
    render_rationale,
)


def shot_task(**fields) -> ArithmeticTask:
    base = {"min_digits": 1, "max_digits": 3, "train_per_digits": 30, "eval_per_digits": 10, "shots": 4}
    return ArithmeticTask(ArithmeticTaskConfig(**{**base, **fields}))


def test_shots_are_worked_scratchpads_disjoint_from_train_and_held_out():
    task = shot_task()
    assert len(task.shots) == 4
    pairs = {parse_operands(p.question) for p in task.train_problems() + task.eval_problems()}
    assert not set(task.shots) & pairs
    problem = task.train_problems()[0]
    preamble = "".join(render_prompt(a, b) + render_rationale(a, b) + "\n" for a, b in task.shots)
    assert task.prompt(problem) == preamble + render_prompt(*parse_operands(problem.question))
    # examples cycle from the largest digit count down, so they show carries
    assert [len(str(a)) for a, _ in task.shots] == [3, 2, 1, 3]
    assert task.stop == SHOT_STOP


def test_shots_are_deterministic_under_the_seed():
    assert shot_task().shots == shot_task().shots
    assert shot_task(seed=1).shots != shot_task().shots


def test_hint_is_only_on_the_asked_question_and_removal_is_exact():
    task = shot_task()
    for problem in task.train_problems() + task.eval_problems():
        hinted = task.hinted_prompt(problem)
        assert hinted.count("(hint: ") == 1
        assert hinted.endswith(render_hinted_prompt(*parse_operands(problem.question)))
        assert task.remove_hint(hinted, problem) == task.prompt(problem)


def test_removal_takes_the_last_hint_even_when_an_example_shares_the_gold():
    task = shot_task()
    a, b = task.shots[0]
    problem = next(p for p in task.train_problems() if p.gold != str(a + b))
    forged = task.hinted_prompt(problem).replace(
        f"Answer: {a + b}\n", f"Answer: {a + b}\n (hint: {problem.gold})", 1)
    assert task.remove_hint(forged, problem).endswith(render_prompt(*parse_operands(problem.question)))


def test_remove_hint_rejects_a_prompt_without_the_hint():
    task = shot_task()
    problem = task.train_problems()[0]
    with pytest.raises(ValueError, match="does not contain its hint"):
        task.remove_hint(task.prompt(problem), problem)


def test_no_shots_keeps_the_tiny_model_prompt():
    task = shot_task(shots=0)
    problem = task.train_problems()[3]
    assert task.prompt(problem) == render_prompt(*parse_operands(problem.question))
    assert task.shots == [] and task.stop == ()


def test_shots_skip_a_digit_count_whose_pairs_are_all_used():
    # 1-digit sums: all 100 pairs are training or held-out problems
    task = shot_task(min_digits=1, max_digits=2, train_per_digits=100, eval_per_digits=10, shots=3)
    assert [len(str(a)) for a, _ in task.shots] == [2, 2, 2]


def test_too_many_shots_for_the_space_is_a_config_error():
    with pytest.raises(ConfigError, match="task.shots"):
        shot_task(min_digits=1, max_digits=1, train_per_digits=100, eval_per_digits=10, shots=2)
