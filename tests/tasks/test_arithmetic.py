"""The embedded arithmetic task: scratchpad writing/parsing, hints, splits."""

from __future__ import annotations

import random

import pytest

from star.config.tasks import ArithmeticTaskConfig
from star.tasks.arithmetic import (
    ArithmeticTask,
    parse_operands,
    render_hinted_prompt,
    render_prompt,
    render_rationale,
    scratchpad_is_exact,
    scratchpad_lines,
)


def test_scratchpad_of_a_known_sum() -> None:
    assert scratchpad_lines(4821, 397) == [
        "482+39 1+7=8 >8",
        "48+3 2+9=11 >18",
        "4+ 8+3+1=12 >218",
        "+ 4+0+1=5 >5218",
    ]


def test_final_carry_gets_its_own_line() -> None:
    assert scratchpad_lines(95, 7)[-1] == "+ 0+0+1=1 >102"
    assert render_rationale(95, 7).endswith("Answer: 102\n")


@pytest.mark.parametrize("seed", range(5))
def test_every_rationale_parses_back_exact_and_sums_right(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        a, b = rng.randrange(0, 10**6), rng.randrange(0, 10**6)
        rationale = render_rationale(a, b)
        assert scratchpad_is_exact(f"{a}+{b}", rationale)
        assert rationale.strip().split("\n")[-1] == f"Answer: {a + b}"
        assert rationale.split("\n")[-3].endswith(f">{a + b}")


def test_a_wrong_step_is_caught_even_when_the_answer_is_right() -> None:
    good = render_rationale(4821, 397)
    bad = good.replace("2+9=11", "2+9=12")
    assert bad != good and bad.endswith("Answer: 5218\n")
    assert not scratchpad_is_exact("4821+397", bad)
    assert not scratchpad_is_exact("4821+397", good.replace("Answer: 5218", "Answer: 5219"))


def test_hint_insertion_and_exact_removal() -> None:
    task = ArithmeticTask(ArithmeticTaskConfig(train_per_digits=5, eval_per_digits=5))
    for problem in task.train_problems() + task.eval_problems():
        hinted = task.hinted_prompt(problem)
        assert problem.gold in hinted and hinted != task.prompt(problem)
        assert task.remove_hint(hinted, problem) == task.prompt(problem)
    assert render_prompt(12, 7) == "Q: 12+7\n"
    assert render_hinted_prompt(12, 7) == "Q: 12+7 (hint: 19)\n"


def test_remove_hint_refuses_a_prompt_without_that_hint() -> None:
    task = ArithmeticTask(ArithmeticTaskConfig(train_per_digits=2, eval_per_digits=2))
    problem = task.train_problems()[0]
    with pytest.raises(ValueError, match="does not contain its hint"):
        task.remove_hint(task.prompt(problem), problem)


def test_splits_are_seeded_balanced_and_disjoint() -> None:
    config = ArithmeticTaskConfig(train_per_digits=50, eval_per_digits=20, seed=3)
    a, b = ArithmeticTask(config), ArithmeticTask(config)
    assert [p.uid for p in a.train_problems()] == [p.uid for p in b.train_problems()]
    held_out = a.eval_problems()
    assert {p.uid for p in held_out}.isdisjoint({p.uid for p in a.train_problems()})
    counts = {d: sum(p.metadata["digits"] == d for p in held_out) for d in range(1, 6)}
    assert set(counts.values()) == {20}
    other = ArithmeticTask(config.model_copy(update={"seed": 4}))
    assert [p.uid for p in other.eval_problems()] != [p.uid for p in held_out]


def test_one_digit_pool_gets_what_the_held_out_set_leaves() -> None:
    task = ArithmeticTask(ArithmeticTaskConfig(min_digits=1, max_digits=1, train_per_digits=400,
                                               eval_per_digits=100))
    # only 100 distinct pairs exist: half held out, half for training, no overlap
    assert len(task.eval_problems()) == 50 and len(task.train_problems()) == 50
    for problem in task.train_problems():
        a, b = parse_operands(problem.question)
        assert 0 <= a <= 9 and 0 <= b <= 9 and problem.gold == str(a + b)


def test_answer_line_is_read_by_the_checker() -> None:
    from star.checker import check

    assert check(render_rationale(4821, 397), "5218").correct
    assert not check(render_rationale(4821, 397), "5217").correct


def test_task_step_check_uses_the_exact_scratchpad() -> None:
    task = ArithmeticTask(ArithmeticTaskConfig(train_per_digits=3, eval_per_digits=1))
    problem = task.train_problems()[-1]
    a, b = parse_operands(problem.question)
    assert task.check_steps(render_rationale(a, b), problem)
    assert not task.check_steps(render_rationale(a, b + 1), problem)
    assert not task.check_steps(render_rationale(a, b) + "extra line\n", problem)
