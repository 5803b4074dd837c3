"""The form a final answer must take, declared by the task.

A checker that compares answers symbolically finds "12+44" equal to a gold 56.
That is right for MATH, whose answers are expressions, but for arithmetic and
GSM8K it rewards a model that echoes the question instead of computing: STaR
then trains on the echoes. Under the `number` form the stated answer must be a
number literal (an integer, a decimal or a fraction, optionally signed, with a
currency sign, thousands separators, a percent sign or a unit word). An answer
that still has to be computed gets status `not_a_number`, which is incorrect.

Only a regular expression runs here (no sympy), on the short answer text the
worker already extracted, so this is safe to run in the calling process.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from star.checker.verdict import Verdict

AnswerType = Literal["number", "symbolic"]
ANSWER_TYPES: tuple[str, ...] = get_args(AnswerType)

_DIGITS = r"(?:\d{1,3}(?:(?:,|\{,\}|\\!|\\,)\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_FRACTION = r"\d+\s*/\s*\d+|\\[dt]?frac\s*\{\s*\d+\s*\}\s*\{\s*\d+\s*\}|\\[dt]?frac\d\d"
_NUMBER_RE = re.compile(
    rf"^[-+\u2212]?\s*(?:\\?\$)?\s*(?:{_FRACTION}|{_DIGITS})\s*(?:\\?%)?(?:\s+[A-Za-z]+){{0,2}}$"
)
# Delimiters and wrappers that do not change what a number is.
_WRAPPERS_RE = re.compile(r"\\text\{([^{}]*)\}|\\mathrm\{([^{}]*)\}")
_RELATION_RE = re.compile(r"=|\\approx|≈")


def final_side(answer: str) -> str:
    """The last side of a relation chain ("12+44 = 56" -> "56"); the text itself otherwise."""
    return _RELATION_RE.split(answer)[-1]


def is_number_literal(answer: str) -> bool:
    """Whether `answer` states a number rather than an expression that computes one."""
    if " , " in answer:  # several answers joined by the checker
        return False
    text = _WRAPPERS_RE.sub(lambda m: " " + (m.group(1) or m.group(2) or ""), answer)
    text = text.strip().strip("$").strip().rstrip(".").strip()
    text = re.sub(r"^\\\(|\\\)$", "", text).strip()
    return bool(_NUMBER_RE.match(text))


def apply_answer_type(verdict: Verdict, answer_type: AnswerType) -> Verdict:
    """`verdict`, or `not_a_number` when the task wants a number and got an expression."""
    if answer_type not in ANSWER_TYPES:
        raise ValueError(f"unknown answer type {answer_type!r}; use one of {ANSWER_TYPES}")
    if answer_type == "symbolic" or verdict.status not in ("correct", "incorrect"):
        return verdict
    if verdict.extracted is not None and is_number_literal(final_side(verdict.extracted)):
        return verdict
    return Verdict(False, "not_a_number", verdict.extracted)
