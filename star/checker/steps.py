"""Exact checking of the arithmetic steps inside a rationale.

Two kinds of step can be checked without understanding the text: GSM8K's
calculator annotations ``<<48/2=24>>`` and plain arithmetic statements such as
``7+5+1=13`` or ``0.2 x 50 = $10``. Both are evaluated with the same exact,
size-bounded arithmetic as the answer checker (star.checker.arith), in this
process: no sympy, no eval, nothing that can hang.

A result written with decimals may be rounded or truncated to its own
precision (``10/3=3.33``, not ``10/3=3.4``); an integer result must be exact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from star.checker.arith import ArithError, evaluate, parse_number
from star.checker.limits import MAX_PREDICTION_CHARS
from star.checker.verdict import StepVerdict

_ANNOTATION_RE = re.compile(r"<<(?P<lhs>[^<>=]{1,200})=(?P<rhs>[^<>=]{1,60})>>")
_NUM = r"\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?|\$?\.\d+%?"
# An operator has spaces on both sides or on neither: "4+ 8+3+1=12" (the
# arithmetic task's scratchpad) is two groups, "4+" and "8+3+1=12", not one sum.
_OP = r"(?:\s+[-+*/×÷^]\s+|[-+*/×÷^]|\s+[xX]\s+)"
_OPERAND = rf"(?:\(\s*)*-?(?:{_NUM})(?:\s*\))*"
# lhs: operands joined by at least one operator; rhs: one number.
_STATEMENT_RE = re.compile(
    rf"(?P<lhs>{_OPERAND}(?:{_OP}{_OPERAND})+)\s*=\s*(?P<rhs>-?(?:{_NUM})(?:\s%)?)"
)
# Characters that, just before a statement, make it the tail of a longer
# expression: operators, and digits or ")" for juxtaposition ("1/2 (68) + 10").
_EXPRESSION_CHARS = set("+-*/×÷^=–—(<>)0123456789")
# After the result, on the same line: more expression, a mixed number
# ("= 1 1/2", "= 5 and 2/3"), digit groups ("= 18 000"), a clock time or a unit
# change ("= 50 cents").
_CONTINUES_RE = re.compile(
    r"^(?:[\d.:,]\d|[ \t]*[-+*/×÷^–—=(]|[ \t]+[xX]\s|[A-Za-z\d]|[ \t]+\d|[ \t]+and\s+\(?\$?\d+\s*/|[ \t]*cents?\b)"
)
_LEADING_ZERO_RE = re.compile(r"(?<![\d.])0\d")
# The same, reading "30,000" as a grouped number rather than a clock-like "000" (the work rules, which
# look for steps rather than judge them; check_steps keeps the narrower reading, measured on GSM8K).
_LEADING_ZERO_GROUPED_RE = re.compile(r"(?<![\d.,])0\d")
_DOUBLE_DIVISION_RE = re.compile(r"/\s*[\d.,]+\s*/")


def _values(text: str) -> list[Fraction]:
    """Readings of a left side; "1.2 x 100%" is also meant as 1.2 x 100."""
    clean = text.replace("$", "").replace(" x ", " * ").replace(" X ", " * ")
    readings = [evaluate(clean)]
    if "%" in clean:
        readings.append(evaluate(clean.replace("%", "")))
    return readings


def _result(text: str) -> tuple[Fraction, int]:
    clean = text.replace("$", "").strip()
    percent = clean.endswith("%")
    negative = clean.startswith("-")
    value, places = parse_number(clean.strip("-%"))
    value = -value if negative else value
    return (value / 100 if percent else value), places + (2 if percent else 0)


def step_ok(lhs: str, rhs: str, *, grouped_thousands: bool = False) -> bool | None:
    """True / False for a checkable step, None when it is not plain arithmetic."""
    leading_zero = _LEADING_ZERO_GROUPED_RE if grouped_thousands else _LEADING_ZERO_RE
    if _DOUBLE_DIVISION_RE.search(lhs) or leading_zero.search(lhs + " " + rhs):
        return None  # "$2000 / 2/3" means 2000 / (2/3); "0900-0130" is a clock time
    try:
        lefts = _values(lhs)
        right, places = _result(rhs.replace(" ", ""))
    except (ArithError, ValueError, ZeroDivisionError):
        return None
    # "(4/10)*100 = 40%": a percent result may be meant with or without the sign.
    targets = [(right, places)]
    if rhs.strip().endswith("%"):
        targets.append((right * 100, max(0, places - 2)))
    return any(left == value or _rounds_to(left, value, digits) for value, digits in targets for left in lefts)


def _rounds_to(exact: Fraction, written: Fraction, places: int) -> bool:
    """Whether `written` is `exact` rounded (half up or half even) or truncated
    to `places` decimals; an integer result (places 0) must be exact."""
    if places == 0:
        return False
    scale = 10**places
    scaled = exact * scale
    shown = {math.floor(scaled + Fraction(1, 2)), round(scaled), math.trunc(scaled)}
    return written * scale in shown


def _statements(text: str) -> list[tuple[int, str, str, str]]:
    """(position, text, lhs, rhs) of free-standing arithmetic statements."""
    return [
        (match.start(), match.group(0).strip(), match.group("lhs"), match.group("rhs"))
        for match in _STATEMENT_RE.finditer(text)
        if _self_contained(text, match.start(), match.end())
    ]


def _self_contained(text: str, start: int, end: int) -> bool:
    """Whether a match is a whole statement, not a piece of a longer expression
    or of algebra ("y + 3 + 4 = 12", "6:00+48=6:48", "14, 400 / 80"): pieces are
    not checked, since judging them would flag correct rationales."""
    before = text[max(0, start - 40):start]
    if before and not (before[-1].isspace() or before[-1] in "\"'[{"):
        return False
    stripped = before.rstrip()
    same_line = "\n" not in before[len(stripped):]
    if same_line and stripped and (stripped[-1] in _EXPRESSION_CHARS or re.search(r"\s[xX]$", stripped)):
        return False
    if stripped.endswith(",") and stripped[-2:-1].isdigit():
        return False
    if same_line and re.search(r"\d\s+and$", stripped) and re.match(r"\d+\s*/", text[start:end]):
        return False  # the fraction of a mixed number: "12 x 1 and 1/4 = 15"
    return not _CONTINUES_RE.match(text[end:end + 12])


@dataclass(frozen=True)
class CheckedStep:
    """One checkable step of a rationale: where it starts, its text, its written result, and whether
    it is right (None: not plain arithmetic, so not judged)."""

    position: int
    text: str
    result: Fraction | None
    ok: bool | None


def checked_steps(rationale: str, *, grouped_thousands: bool = False) -> list[CheckedStep]:
    """Every arithmetic step of `rationale` in text order (annotations and free-standing statements).

    Positions count in the last MAX_PREDICTION_CHARS characters, which is all that is checked.
    """
    text = rationale[-MAX_PREDICTION_CHARS:]
    steps = [(m.start(), m.group(0), m.group("lhs"), m.group("rhs")) for m in _ANNOTATION_RE.finditer(text)]
    # An annotation is checked once, as itself; "§" keeps the text around it
    # ("48/2 = <<48/2=24>>24") from being read as a second statement.
    blanked = _ANNOTATION_RE.sub(lambda m: "§" * len(m.group(0)), text)
    steps += _statements(blanked)
    steps.sort(key=lambda step: step[0])
    return [CheckedStep(position, step_text, _written_result(rhs),
                        step_ok(lhs, rhs, grouped_thousands=grouped_thousands))
            for position, step_text, lhs, rhs in steps]


def _written_result(rhs: str) -> Fraction | None:
    try:
        return _result(rhs.replace(" ", ""))[0]
    except (ArithError, ValueError, ZeroDivisionError):
        return None


def check_steps(rationale: str) -> StepVerdict:
    """Verify every checkable arithmetic step in `rationale`; report the first wrong one."""
    checked = 0
    for step in checked_steps(rationale):
        if step.ok is None:
            continue
        if not step.ok:
            return StepVerdict(False, checked, step.text, checked + 1)
        checked += 1
    return StepVerdict(True, None, None, checked)
