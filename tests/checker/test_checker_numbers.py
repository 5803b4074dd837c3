"""Exact arithmetic: integers and rationals never pass through floats."""

from __future__ import annotations

from fractions import Fraction

import pytest

from star.checker.arith import ArithError, evaluate
from star.checker.core import judge


@pytest.mark.parametrize(
    ("prediction", "gold"),
    [
        ("\\boxed{0.1+0.2}", "0.3"),
        ("\\boxed{123456789012345678901}", "123456789012345678901"),
        ("\\boxed{\\frac{1}{2^{99}}}", "\\frac{1}{2^{99}}"),
        ("\\boxed{0.5}", "\\frac{1}{2}"),
        ("\\boxed{1/8}", "0.125"),
        ("\\boxed{-7}", "-7"),
        ("\\boxed{1000.0}", "1000"),
        ("\\boxed{.4}", "0.4"),
        ("\\boxed{2/4}", "1/2"),
    ],
)
def test_exactly_equal(prediction: str, gold: str) -> None:
    assert judge(prediction, gold).correct


@pytest.mark.parametrize(
    ("prediction", "gold"),
    [
        ("\\boxed{0.1+0.2}", "0.30000000000000004"),
        ("\\boxed{123456789012345678902}", "123456789012345678901"),
        ("\\boxed{\\frac{1}{2^{99}}}", "\\frac{1}{2^{98}}"),
        ("\\boxed{\\frac{1}{2^{200}}}", "\\frac{1}{2^{199}}"),
        ("\\boxed{7}", "-7"),
        ("\\boxed{3.0001}", "3"),
        ("\\boxed{0.28}", "28"),
    ],
)
def test_exactly_different(prediction: str, gold: str) -> None:
    verdict = judge(prediction, gold)
    assert verdict.status == "incorrect"


def test_decimal_matches_fraction_only_when_exact() -> None:
    assert not judge("\\boxed{0.333}", "\\frac{1}{3}").correct
    assert not judge("\\boxed{0.3333333333333333}", "\\frac{1}{3}").correct
    assert not judge("\\boxed{1.41421356237}", "\\sqrt{2}").correct


def test_gold_decimal_precision_is_honoured() -> None:
    # The gold states two decimals: anything that rounds to it agrees.
    assert judge("\\boxed{\\frac{70}{9}}", "7.78").correct
    assert judge("\\boxed{16386.169}", "16386.17").correct
    assert judge("\\boxed{\\sqrt{17}}", "4.123105625617661").correct
    assert not judge("\\boxed{\\frac{70}{9}}", "7.77").correct
    assert not judge("\\boxed{16386.175}", "16386.17").correct
    assert not judge("\\boxed{7.8}", "7.78").correct


def test_plain_arithmetic_evaluator() -> None:
    assert evaluate("0.1+0.2") == Fraction(3, 10)
    assert evaluate("48/2") == 24
    assert evaluate("2^-2") == Fraction(1, 4)
    assert evaluate("-(3+4)*2") == -14
    assert evaluate("0.2 x 50") == 10
    assert evaluate("50%") == Fraction(1, 2)
    for bad in ("1/0", "2^2^100", "2 3", "(1+2", "", "1e5", "__import__('os')", "2^0.5"):
        with pytest.raises(ArithError):
            evaluate(bad)


@pytest.mark.parametrize(
    ("prediction", "gold", "correct"),
    [
        ("\\boxed{28\\%}", "28\\%", True),
        ("The rate is 28 percent.", "28\\%", True),
        ("\\boxed{28}", "28\\%", True),
        ("\\boxed{0.28}", "28\\%", True),
        ("\\boxed{29}", "28\\%", False),
        ("\\boxed{28}", "0.28", False),
        ("\\boxed{28/100}", "28", False),
        ("It increases by 100%.", "100", True),
    ],
)
def test_percentages(prediction: str, gold: str, correct: bool) -> None:
    assert judge(prediction, gold).correct is correct
