"""LaTeX answers, read by latex2sympy2_extended and compared exactly."""

from __future__ import annotations

import pytest

from star.checker.core import judge


@pytest.mark.parametrize(
    ("prediction", "gold"),
    [
        ("\\boxed{\\frac{14}{3}}", "14/3"),
        ("\\boxed{\\dfrac{1}{3}}", "\\frac{1}{3}"),
        ("\\boxed{\\tfrac13}", "1/3"),
        ("\\boxed{\\frac{\\sqrt{12}}{2}}", "\\sqrt{3}"),
        ("\\boxed{3\\sqrt{13}}", "\\sqrt{117}"),
        ("\\boxed{2\\frac{1}{2}}", "\\frac{5}{2}"),
        ("\\boxed{\\frac{9}{4}\\pi}", "\\frac{9\\pi}{4}"),
        ("\\boxed{3+4i}", "4i+3"),
        ("\\boxed{i^2}", "-1"),
        ("\\boxed{2^{10}}", "1024"),
        ("\\boxed{\\left( \\frac{1}{3} \\right)}", "1/3"),
        ("\\boxed{\\sqrt 2+\\sqrt 5}", "\\sqrt{2}+\\sqrt{5}"),
        ("\\boxed{\\frac{x+2}{7}}", "\\frac{x}{7}+\\frac{2}{7}"),
        ("\\boxed{\\sec^2(y)}", "\\tan^2(y)+1"),
        ("\\boxed{2 \\sin b \\cos a}", "2\\cos a \\sin b"),
        ("\\boxed{\\frac{\\sin(3x)^{5}}{\\cos(x)^{4}}}", "\\frac{(3\\sin(x)-4\\sin(x)^3)^{5}}{\\cos(x)^{4}}"),
    ],
)
def test_equal_latex(prediction: str, gold: str) -> None:
    assert judge(prediction, gold).correct


@pytest.mark.parametrize(
    ("prediction", "gold"),
    [
        ("\\boxed{\\frac{14}{3}}", "13/3"),
        ("\\boxed{\\sqrt{2}}", "2"),
        ("\\boxed{4\\sqrt{2}}", "4"),
        ("\\boxed{\\frac{1+\\sqrt{5}}{2}}", "2"),
        ("\\boxed{3-4i}", "3+4i"),
        ("\\boxed{x+1}", "x+2n+1"),
        ("\\boxed{\\pi}", "3.1415"),  # pi rounds to 3.1416 at the gold's 4 decimals
        ("\\boxed{(+5)(b+2)}", "(a+5)(b+2)"),
        ("\\boxed{1 + \\frac{1}{e}}", "1 - \\frac{1}{e}"),
    ],
)
def test_different_latex(prediction: str, gold: str) -> None:
    assert judge(prediction, gold).status == "incorrect"


def test_unsupported_commands_are_unparseable_not_guessed() -> None:
    verdict = judge("\\boxed{\\zzz{3}}", "3")
    assert verdict.status == "unparseable" and not verdict.correct


def test_factorials() -> None:
    assert judge("\\boxed{5!}", "120").correct
    assert judge("The answer is $5!$.", "120").correct
    assert judge("The answer is 5!", "5").correct  # prose: an exclamation mark
    assert judge("\\boxed{(10^{10})!}", "5").status == "unparseable"  # refused, not computed
