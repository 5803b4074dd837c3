"""What held-out answers show (star/loop/evaluate.py heldout_work_counts): steps written out, right or wrong,
and right answers that do the work. What showed SmolLM2 learning bare `Answer: N` lines from leaked hints,
whatever its accuracy."""

from __future__ import annotations

from star.config.tasks import ArithmeticTaskConfig
from star.evaluation.heldout import HeldOutAnswer
from star.loop.evaluate import heldout_work_counts
from star.tasks.arithmetic import ArithmeticTask, render_rationale

TASK = ArithmeticTask(ArithmeticTaskConfig(min_digits=2, max_digits=2, train_per_digits=10, eval_per_digits=4))


def test_bare_answers_count_as_right_but_without_steps_or_work() -> None:
    problems = dict(enumerate(TASK.eval_problems()))
    first, second, third, fourth = (problems[i] for i in range(4))
    worked = render_rationale(*map(int, first.question.split("+")))
    answers = [HeldOutAnswer(0, 0, "p", worked, first.gold, True),
               HeldOutAnswer(1, 0, "p", f"Answer: {second.gold}\n", second.gold, True),
               HeldOutAnswer(2, 0, "p", "+ 1+1=1 >11\nAnswer: 11\n", "11", third.gold == "11"),  # wrong steps
               HeldOutAnswer(3, 0, "p", "Answer: 1\n", "1", False)]
    assert heldout_work_counts(TASK, problems, answers) == {
        "heldout_greedy": 4, "heldout_greedy_steps": 2, "heldout_right": 2 + (third.gold == "11"),
        "heldout_right_work": 1}
    assert heldout_work_counts(TASK, problems, []) == {
        "heldout_greedy": 0, "heldout_greedy_steps": 0, "heldout_right": 0, "heldout_right_work": 0}
    assert fourth.gold != "1"


def test_steps_are_found_in_number_rationales_right_or_wrong() -> None:
    from star.checker.work import has_steps

    assert has_steps("48/2 = 24\n48+24 = 70\n#### 70")  # wrong, but written out
    assert has_steps("Half: 48 clips / 2 = 24 clips\nThe answer is 24")
    assert not has_steps("The answer is 72.") and not has_steps("Answer: 48+24=72")
