"""Equations, tuples, sets, intervals, matrices, choices and plain text."""

from __future__ import annotations

import pytest

from star.checker.core import judge

CASES = [
    # equations against values
    ("\\boxed{5}", "x = 5", True),
    ("\\boxed{x = 5}", "5", True),
    ("$x = 5+5+1 = 11$", "11", True),
    ("$x \\approx 11$", "11", True),
    ("$x = 1/3 \\approx 0.33$", "x = 1/3", True),
    ("\\boxed{11a+c}", "7 = 11a+c", False),
    ("\\boxed{0}", "a + 3z = 0", False),
    ("\\boxed{y = 5}", "x = 5", False),
    ("\\boxed{f(t) = t^2}", "f(x) = x^2", True),
    ("\\boxed{y=-\\frac{1}{2}x+\\frac{3}{4}}", "2x+4y-3=0", True),
    ("\\boxed{y=-\\frac{1}{2}x+\\frac{5}{4}}", "2x+4y-3=0", False),
    # inequalities
    ("$5 \\geq x$", "x \\leq 5", True),
    ("$-x > -1$", "x < 1", True),
    ("$x > -1$", "x < 1", False),
    ("$x \\le 5$", "x < 5", False),
    # tuples are ordered
    ("\\boxed{(3, \\frac{\\pi}{2})}", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
    ("\\boxed{(\\frac{\\pi}{2}, 3)}", "(3, \\frac{\\pi}{2})", False),
    ("\\boxed{(1, 4.5)}", "(1,\\frac{9}{2})", True),
    ("$(p,q) = (3,2)$", "(3, 2)", True),
    ("\\boxed{(3, 2, 1)}", "(3, 2)", False),
    # sets and lists are not
    ("\\boxed{\\{3, 1, 2\\}}", "\\{1, 2, 3\\}", True),
    ("\\boxed{1, -2}", "-2, 1", True),
    ("The roots are \\boxed{-2} and \\boxed{1}.", "1, -2", True),
    ("\\boxed{1, 2}", "1, 2, 3", False),
    ("\\boxed{\\{-2021, 2021\\}}", "\\pm 2021", True),
    ("\\boxed{2021}", "\\pm 2021", False),
    ("\\boxed{1 \\pm \\sqrt{19}}", "1+\\sqrt{19}, 1-\\sqrt{19}", True),
    # intervals: closure matters
    ("\\boxed{[0, 1)}", "[0,1)", True),
    ("\\boxed{(0, 1)}", "[0,1)", False),
    ("\\boxed{[0, 9)}", "[0,1)", False),
    ("$x \\in [-2, 7]$", "-2 \\le x \\le 7", True),
    ("\\boxed{(-\\infty, -3] \\cup [2, \\infty)}", "[-3,2]", False),
    ("\\boxed{(2,12) \\cup (12,102)}", "(2, 12) \\cup (12, 102)", True),
    ("\\boxed{[-1, -\\tfrac12) \\cup (-\\tfrac12, 0)}", "[-1, -\\frac{1}{2}) \\cup (-\\frac{1}{2}, 0)", True),
    ("\\boxed{(1, \\infty)}", "x > 1", True),
    # matrices
    ("$\\begin{bmatrix}1 & 2 \\\\ 3 & 4\\end{bmatrix}$", "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", True),
    ("$\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}$", "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", False),
    ("$\\begin{pmatrix}1 & 2\\end{pmatrix} + \\begin{pmatrix}5 & 6\\end{pmatrix}$", "\\begin{pmatrix}6 & 8\\end{pmatrix}", True),
    ("$\\begin{pmatrix}\\frac{1}{2} \\\\ 3\\end{pmatrix}$", "\\begin{pmatrix}0.5 \\\\ 3\\end{pmatrix}", True),
    # multiple choice
    ("The answer is (C).", "C", True),
    ("\\boxed{\\text{(C)}}", "C", True),
    ("The answer is B.", "C", False),
    ("The answer is (C) 12", "C", True),
    ("Looking at the options, (A) is wrong and (D) fits.", "D", True),
    ("I pick option B.", "B", True),
    ("I pick option B.", "D", False),
    ("A train leaves at 5 pm.", "A", False),
    # plain text
    ("Therefore, $\\boxed{\\text{Evelyn}}$ is our answer.", "\\text{Evelyn}", True),
    ("\\boxed{\\text{Briana}}", "Evelyn", False),
    ("$odd$", "\\text{odd}", True),
    ("\\boxed{even}", "\\text{odd}", False),
]


@pytest.mark.parametrize(("prediction", "gold", "correct"), CASES)
def test_structures(prediction: str, gold: str, correct: bool) -> None:
    assert judge(prediction, gold).correct is correct
