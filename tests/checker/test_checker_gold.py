"""can_parse_gold: which gold answers the checker can interpret."""

from __future__ import annotations

import pytest

from star.checker import can_parse_gold


@pytest.mark.parametrize(
    "gold",
    ["72", "-3", "1,000", "0.5", "\\frac{1}{2}", "$\\sqrt{2}$", "(1, 2]", "\\{1, 2\\}", "(3, \\frac{\\pi}{2})",
     "x = 5", "C", "Evelyn", "\\text{odd}", "28\\%", "\\begin{pmatrix}1 & 0\\end{pmatrix}",
     "The answer is \\boxed{4}."],
)
def test_interpretable(gold: str) -> None:
    assert can_parse_gold(gold)


@pytest.mark.parametrize(
    "gold",
    ["", "   ", "\\frac{1}{", "\\boxed{}", "\\zzz{1}", "2^{2^{2^{2^{2}}}}", "(" * 40 + "1" + ")" * 40,
     "__import__('os').system('true')", "x" * 5000],
)
def test_not_interpretable(gold: str) -> None:
    assert not can_parse_gold(gold)


def test_non_strings_are_rejected() -> None:
    assert not can_parse_gold(None)  # type: ignore[arg-type]
    assert not can_parse_gold(72)  # type: ignore[arg-type]


def test_every_gsm8k_gold_is_interpretable(gsm8k_rows: list[dict[str, str]]) -> None:
    bad = [r["answer"] for r in gsm8k_rows if not can_parse_gold(r["answer"].split("####")[-1].strip())]
    assert bad == []
