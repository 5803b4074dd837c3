"""The `number` answer form: an answer that still has to be computed is not an answer.

The measured reward hack: SmolLM2 learned to answer "The answer is: 12+44",
the symbolic checker found 12+44 equal to the gold 56, and STaR trained on
echoes of the question.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from star.checker import Checker
from star.checker.forms import apply_answer_type, final_side, is_number_literal
from star.checker.verdict import Verdict
from star.cli import StarGroup
from star.cli.check import COMMANDS
from star.config.tasks import ArithmeticTaskConfig
from star.engines.requests import Completion
from star.loop.acceptance import CheckItem, score_items
from star.tasks import build_task

ECHOES = [
    ("The answer is: 12+44", "56"),  # the measured SmolLM2 case
    ("The answer is 48/2 + 48", "72"),  # GSM8K: half of 48, plus 48
    ("#### 2*3", "6"),
    ("The answer is 2^3", "8"),
    ("The answer is \\boxed{\\sqrt{4}}", "2"),
    ("The answer is 100 - 28.", "72"),
]
LITERALS = [
    ("#### 72", "72"),
    ("The answer is $1,234.50.", "1234.5"),
    ("The answer is \\boxed{\\frac{1}{2}}", "0.5"),
    ("The answer is -3/4", "-0.75"),
    ("The answer is 10%", "10"),
    ("The answer is 18 dollars.", "18"),
    ("Answer: 5 + 3 = 8", "8"),  # a computation that ends in the number it states
    ("The answer is $\\$18$", "18"),
]


@pytest.mark.parametrize(("prediction", "gold"), ECHOES)
def test_an_expression_is_not_a_number(pool: Checker, prediction: str, gold: str) -> None:
    symbolic, number = (pool.check_many([(prediction, gold)], answer_type=t)[0] for t in ("symbolic", "number"))
    assert symbolic.correct, "the symbolic reading finds the echo equal to the gold"
    assert (number.correct, number.status) == (False, "not_a_number")
    assert number.extracted == symbolic.extracted


@pytest.mark.parametrize(("prediction", "gold"), LITERALS)
def test_number_literals_keep_their_verdict(pool: Checker, prediction: str, gold: str) -> None:
    verdict = pool.check_many([(prediction, gold)], answer_type="number")[0]
    assert (verdict.correct, verdict.status) == (True, "correct"), verdict


def test_a_wrong_number_stays_incorrect_and_no_answer_stays_no_answer(pool: Checker) -> None:
    wrong, missing = pool.check_many([("The answer is 57", "56"), ("I do not know", "56")], answer_type="number")
    assert (wrong.status, missing.status) == ("incorrect", "no_answer")


def test_every_gsm8k_reference_solution_is_a_number(gsm8k_rows: list[dict[str, str]], pool: Checker) -> None:
    pairs = [(row["answer"], row["answer"].split("####")[-1].strip()) for row in gsm8k_rows]
    verdicts = pool.check_many(pairs, answer_type="number")
    assert [v for v in verdicts if not v.correct] == []


def test_literal_shapes() -> None:
    assert all(is_number_literal(s) for s in ["7", "-7", "+0.5", ".5", "1,080", "3/4", "\\frac{3}{4}",
                                              "\\dfrac12", "12%", "\\$5", "5 \\text{cm}", "1{,}000"])
    assert not any(is_number_literal(s) for s in ["12+44", "3*4", "x", "2^3", "1 , 2", "", "-", "e^2",
                                                  "\\frac{a}{b}", "1/2/3"])
    assert final_side("12+44 = 56") == " 56" and final_side("56") == "56"


def test_unknown_answer_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown answer type"):
        apply_answer_type(Verdict(True, "correct", "1"), "numeric")  # type: ignore[arg-type]


def test_cli_answer_type_flag() -> None:
    group = StarGroup(name="star")
    for command in COMMANDS:
        group.add_command(command)
    args = ["check", "--gold", "56", "--prediction", "The answer is: 12+44"]
    plain = CliRunner().invoke(group, args)
    number = CliRunner().invoke(group, [*args, "--answer-type", "number"])
    assert json.loads(plain.output)["status"] == "correct"
    assert json.loads(number.output) == {"correct": False, "status": "not_a_number", "extracted": "12+44"}


def test_the_embedded_arithmetic_task_does_not_accept_an_echo(pool: Checker) -> None:
    task = build_task(ArithmeticTaskConfig(min_digits=2, max_digits=2, train_per_digits=3, eval_per_digits=1))
    problem = task.train_problems()[0]
    echo = f"Answer: {problem.question}"  # the question is the sum itself, e.g. 15+43
    right = f"Answer: {problem.gold}"
    items = [CheckItem(Completion(1, "direct", i, "p", text, 1, 1, True), problem) for i, text in enumerate([echo, right])]
    echoed, computed = score_items(pool, task, items, accept="answer")
    assert task.answer_type == "number"
    assert (echoed.status, echoed.accepted) == ("not_a_number", False)
    assert (computed.status, computed.accepted) == ("correct", True)


def test_a_rationalized_answer_without_work_is_refused_and_says_why(pool: Checker) -> None:
    """require_work: the hinted kind must do the scratchpad; direct ones only with `all`; held-out never."""
    from star.tasks.arithmetic import render_rationale

    task = build_task(ArithmeticTaskConfig(min_digits=2, max_digits=2, train_per_digits=3, eval_per_digits=1))
    problem = task.train_problems()[0]
    bare, worked = f"Answer: {problem.gold}\n", render_rationale(*map(int, problem.question.split("+")))

    def scored(kind: str, text: str, require_work: str, accept: str = "answer"):
        item = CheckItem(Completion(1, kind, 0, "p", text, 1, 1, True), problem)
        return score_items(pool, task, [item], accept=accept, require_work=require_work)[0]

    refused = scored("rationalized", bare, "rationalized")
    assert (refused.correct, refused.accepted, refused.refusal) == (True, False, "no_work")
    assert refused.path_key is not None  # every right attempt keeps its reasoning path
    kept = scored("rationalized", worked, "rationalized")
    assert (kept.accepted, kept.refusal) == (True, None) and kept.path_key != refused.path_key
    assert scored("direct", bare, "rationalized").accepted
    assert scored("direct", bare, "all").refusal == "no_work"
    assert scored("eval", bare, "all").accepted  # held-out answers are graded, not trained on
    assert scored("rationalized", bare, "none").accepted  # the paper's filter
    slipped = worked.replace("=", "=1", 1)  # a scratchpad line goes wrong, the answer line stays right
    assert scored("direct", slipped, "none", accept="answer_and_steps").refusal == "wrong_steps"
    wrong = scored("rationalized", "Answer: 1\n", "rationalized")
    assert (wrong.correct, wrong.refusal, wrong.path_key) == (False, None, None)
