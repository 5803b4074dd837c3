"""Whether a rationale does the work or restates the answer, and which reasoning path it takes.

A rationalized rationale is written with the gold answer in its prompt. A model
can reach "the right answer" by copying that hint (`Answer: 90`, or the question
restated and then the hinted number), and training on such text teaches it to
skip the reasoning. These rules say why a rationale that reached the gold answer
does not show its work (docs/checker.md, "Work rules"):

- **number answers**: at least one right, checkable arithmetic step
  (`48/2 = 24`, `<<48/2=24>>`) outside the final answer line (`NO_WORK` if
  none), and the gold number must not appear on a line before the first step
  whose result it is (`ANSWER_FIRST`; the step's own line may state it first:
  "He eats 48 pieces because 32 + 16 = 48"), and some step must compute it
  (`NOT_COMPUTED`: right arithmetic beside the hinted number, or algebra the
  step checker does not read, `x = 18`). The gold counts in any form:
  `1,080`, `1080.00`, `$1080`, `one thousand and eighty`. When the question
  itself contains the gold number, its order is not judged (restating the
  question would mention it); a step must still compute it.
- **multiple choice**: at least `MIN_OWN_WORDS` distinct words of three
  letters or more that are not in the question, not in the choices and not
  filler such as "answer", "correct" or "hint" (`NO_WORK`): "Of the above
  choices, only television requires cable" passes, "The hint says (C), so the
  answer is (C)" does not.
- **other answers** (expressions, text): an equation before the final answer
  line, or the words rule above (`NO_WORK`).

A reasoning path is a rationale reduced to what it computes, so two rationales
that take the same steps in other words count once (RFT, Yuan et al. 2023):
the ordered list of checkable steps with spaces and `$` removed, or, with no
step, the text lower-cased with its whitespace collapsed.

Everything here is regular expressions and exact fractions: nothing is evaluated.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from fractions import Fraction

from star.checker.arith import ArithError, parse_number
from star.checker.limits import MAX_PREDICTION_CHARS
from star.checker.steps import CheckedStep, checked_steps, step_ok

#: a rationale that reached the gold answer with no checkable step (or too few words of its own)
NO_WORK = "no_work"
#: the gold answer appears before the step that computes it: the hint, restated
ANSWER_FIRST = "answer_first"
#: the rationale states the gold answer, but none of its steps computes it: work beside a restated hint
NOT_COMPUTED = "not_computed"
#: distinct own words a non-numeric rationale needs (see the module docstring)
MIN_OWN_WORDS = 3

_NUMBER_RE = re.compile(r"(?<![\w.])-?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?")
# "3/4" names a fraction only when the gold is one: "120/24" is a division, not a mention of 5.
_FRACTION_RE = re.compile(r"(?<![\w./])-?\d+/\d+(?![\d/])")
_ANSWER_LINE_RE = re.compile(r"^\s*(?:####|(?:the\s+|final\s+)?answer\b|\\boxed|so\s+the\s+answer\b)", re.IGNORECASE)
_WORD_RE = re.compile(r"[a-z]{3,}")
_FILLER = frozenset(
    ["answer", "answers", "correct", "choice", "choices", "option", "options", "hint", "the", "and", "that", "this", "which", "is", "are", "was", "were", "for", "from", "with", "thus", "therefore", "hence", "so", "final", "because", "right", "true", "best", "hinted", "hint", "says", "given"]
)
_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9}
_NUMBER_WORD = "|".join([*_UNITS, *_TENS, "hundred", *_SCALES])
_SPELLED_RE = re.compile(rf"\b(?:{_NUMBER_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_NUMBER_WORD}))*\b", re.IGNORECASE)


def number_value(text: str) -> Fraction | None:
    """The value of a written number (`1,080`, `$3.50`, `3/4`, `12%` as 12), None if it is not one."""
    clean = text.strip().replace("$", "").replace(",", "").rstrip("%")
    negative = clean.startswith("-")
    numerator, _, denominator = clean.lstrip("-").partition("/")
    try:
        value = parse_number(numerator)[0]
        if denominator:
            value /= parse_number(denominator)[0]
    except (ArithError, ValueError, ZeroDivisionError):
        return None
    return -value if negative else value


def spelled_value(words: str) -> int:
    """The integer a run of number words names: "one thousand and eighty" -> 1080."""
    total = current = 0
    for word in re.split(r"[\s-]+", words.lower()):
        if word in _UNITS:
            current += _UNITS.index(word)
        elif word in _TENS:
            current += 10 * (_TENS.index(word) + 2)
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return total + current


def mentions(text: str, value: Fraction) -> list[int]:
    """Positions in `text` where `value` is written, as digits or in words."""
    found = [m.start() for m in _NUMBER_RE.finditer(text) if number_value(m.group(0)) == value]
    if value.denominator != 1:
        found += [m.start() for m in _FRACTION_RE.finditer(text) if number_value(m.group(0)) == value]
    elif value >= 0:
        found += [m.start() for m in _SPELLED_RE.finditer(text) if spelled_value(m.group(0)) == value]
    return sorted(found)


# "15 stickers - 7 stickers = 8 stickers": a step with units between its numbers, as GSM8K's shots
# write them once the calculator annotations are removed. Units are words of two letters or more
# (a lone "x" is a times sign) or a rate ("snakes/jaguar"), at most three after each number.
_UNIT_NUMBER = r"\$?\d[\d,]*(?:\.\d+)?%?"
_UNIT_WORD = r"[A-Za-z][A-Za-z'-]+(?:/[A-Za-z][A-Za-z'-]+)?"  # "snakes", "ml/liter"
_UNITS_AFTER = rf"(?:\s+{_UNIT_WORD}){{0,3}}"
_UNIT_OP = r"(?:\s*[-+*/×÷]\s*|\s+[xX]\s+)"
_UNIT_STATEMENT_RE = re.compile(
    rf"(?<![\w.$])(?P<lhs>{_UNIT_NUMBER}{_UNITS_AFTER}(?:{_UNIT_OP}{_UNIT_NUMBER}{_UNITS_AFTER})+)"
    rf"\s*=\s*(?P<rhs>{_UNIT_NUMBER})")
_UNIT_WORD_RE = re.compile(_UNIT_WORD)


def _unit_steps(text: str) -> list[CheckedStep]:
    steps = []
    for match in _UNIT_STATEMENT_RE.finditer(text):
        lhs = _UNIT_WORD_RE.sub(" ", match.group("lhs"))
        rhs = match.group("rhs")
        steps.append(CheckedStep(match.start(), f"{lhs}={rhs}", number_value(rhs),
                                 step_ok(lhs, rhs, grouped_thousands=True)))
    return steps


def work_statements(text: str) -> list[CheckedStep]:
    """The checkable steps of a rationale (star.checker.steps) and the steps with units between their
    numbers, in text order; a unit step that overlaps a plain one is the same step."""
    plain = checked_steps(text, grouped_thousands=True)
    starts = {step.position for step in plain}
    extra = [step for step in _unit_steps(text) if not any(abs(step.position - s) < 3 for s in starts)]
    return sorted(plain + extra, key=lambda step: step.position)


def _answer_line_start(text: str) -> int:
    """Where the final answer line starts (`Answer: 72`, `#### 72`, `The answer is 72.`); len(text) if none."""
    stripped = text.rstrip()
    start = stripped.rfind("\n") + 1
    return start if _ANSWER_LINE_RE.match(stripped[start:]) else len(text)


def work_steps(text: str) -> list[CheckedStep]:
    """The right, checkable steps of a rationale that lie before its final answer line."""
    end = _answer_line_start(text)
    return [step for step in work_statements(text) if step.ok and step.position < end]


def has_steps(rationale: str) -> bool:
    """Whether the rationale writes any checkable step, right or wrong, before its final answer line."""
    text = rationale[-MAX_PREDICTION_CHARS:]
    end = _answer_line_start(text)
    return any(step.ok is not None and step.position < end for step in work_statements(text))


def number_work_refusal(rationale: str, gold: str, question: str) -> str | None:
    """NO_WORK, ANSWER_FIRST or None for a rationale whose final answer is the number `gold`."""
    text = rationale[-MAX_PREDICTION_CHARS:]
    steps = work_steps(text)
    if not steps:
        return NO_WORK
    value = number_value(gold)
    if value is None:
        return None
    computing = [step.position for step in steps if step.result == value]
    if not computing:
        return NOT_COMPUTED
    if mentions(question, value):
        return None  # restating the question mentions the number: its order says nothing
    first_mention = min(mentions(text, value), default=None)
    # "He eats 48 pieces because 32 + 16 = 48": a result stated on the line that computes it is fine.
    if first_mention is not None and _line_start(text, first_mention) < _line_start(text, computing[0]):
        return ANSWER_FIRST
    return None


def _line_start(text: str, position: int) -> int:
    return text.rfind("\n", 0, position) + 1


def own_words(rationale: str, given: Iterable[str]) -> set[str]:
    """Distinct words of the rationale that are not in any of the `given` texts nor filler."""
    known = set(_FILLER)
    for text in given:
        known.update(_WORD_RE.findall(text.lower()))
    return set(_WORD_RE.findall(rationale.lower())) - known


def words_work_refusal(rationale: str, given: Iterable[str], min_words: int = MIN_OWN_WORDS) -> str | None:
    """NO_WORK when the rationale has fewer than `min_words` words of its own (see `own_words`)."""
    return NO_WORK if len(own_words(rationale[-MAX_PREDICTION_CHARS:], given)) < min_words else None


def text_work_refusal(rationale: str, given: Iterable[str]) -> str | None:
    """The rule for answers that are not numbers: an equation before the final answer line
    (`(2)(12) = 24`), or enough words of the rationale's own; NO_WORK otherwise."""
    text = rationale[-MAX_PREDICTION_CHARS:]
    if "=" in text[:_answer_line_start(text)]:
        return None
    return words_work_refusal(text, given)


def normalized_text(text: str) -> str:
    return " ".join(text.lower().split())


def step_path(rationale: str) -> str:
    """The ordered checkable steps (`48/2=24;48+24=72`), or the normalised text when there are none."""
    steps = [step.text for step in work_statements(rationale) if step.ok is not None]
    if not steps:
        return normalized_text(rationale)
    return ";".join(re.sub(r"[\s$<>]", "", step) for step in steps)


def path_key(path: str) -> str:
    """A short stable key of a reasoning path: what the store keeps and dedup compares."""
    return hashlib.sha256(path.encode()).hexdigest()[:16]
