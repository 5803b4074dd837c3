"""Answer classes for majority voting, by the checker's equivalence."""

from __future__ import annotations

import pytest

from star.checker import Checker
from star.evaluation.classes import answer_classes, canonical, pairs_to_check


def test_correct_answers_form_class_zero_and_incorrect_ones_are_grouped_by_equivalence() -> None:
    answers = ["1/2", "0.5", "3", "03", None, "7", " 3"]
    correct = [False, False, False, False, False, True, False]
    asked: list[tuple[str, str]] = []
    equal = {("1/2", "0.5")}

    def same(a: str, b: str) -> bool:
        asked.append((a, b))
        return (a, b) in equal

    assert answer_classes(answers, correct, same) == [1, 1, 2, 2, None, 0, 2]
    # integers are compared exactly here; only the other pairs reach the checker, each listed in advance
    assert set(asked) <= pairs_to_check(answers, correct) == {("1/2", "0.5"), ("1/2", "3"), ("0.5", "3")}


def test_canonical_forms() -> None:
    assert canonical(" 0 42 ") == "42" and canonical("-007") == "-7" and canonical("x + 1") == "x+1"


def test_no_pairs_when_every_incorrect_answer_is_an_integer() -> None:
    assert pairs_to_check(["12", "13", "012", None], [False, False, False, False]) == set()
    assert answer_classes(["12", "13", "012"], [False] * 3, lambda a, b: pytest.fail("asked")) == [1, 2, 1]


def test_the_real_checker_finds_equal_answers_in_different_forms() -> None:
    with Checker(workers=1, timeout=10.0) as checker:
        verdicts = checker.same_answers([("0.5", "1/2"), ("\\frac{1}{2}", "0.5"), ("3", "4"), ("x+1", "1+x")])
    assert verdicts == [True, True, False, True]
