"""How many held-out answers do the work (star/loop/evaluate.py heldout_work_counts): what showed SmolLM2
learning bare `Answer: N` lines from leaked hints, whatever its accuracy."""

from __future__ import annotations

from star.config.tasks import ArithmeticTaskConfig
from star.evaluation.heldout import HeldOutAnswer
from star.loop.evaluate import heldout_work_counts
from star.tasks.arithmetic import ArithmeticTask, render_rationale

TASK = ArithmeticTask(ArithmeticTaskConfig(min_digits=2, max_digits=2, train_per_digits=3, eval_per_digits=3))


def test_bare_answers_count_as_right_but_without_work() -> None:
    problems = dict(enumerate(TASK.eval_problems()))
    first, second, third = (problems[i] for i in range(3))
    worked = render_rationale(*map(int, first.question.split("+")))
    answers = [HeldOutAnswer(0, 0, "p", worked, first.gold, True),
               HeldOutAnswer(1, 0, "p", f"Answer: {second.gold}\n", second.gold, True),
               HeldOutAnswer(2, 0, "p", "Answer: 1\n", "1", False)]
    assert heldout_work_counts(TASK, problems, answers) == {
        "heldout_greedy": 3, "heldout_greedy_work": 1, "heldout_right": 2, "heldout_right_work": 1}
    assert heldout_work_counts(TASK, problems, []) == {
        "heldout_greedy": 0, "heldout_greedy_work": 0, "heldout_right": 0, "heldout_right_work": 0}
    assert third.gold != "1"
