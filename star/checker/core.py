"""One check, in this process: extract, interpret, compare.

`judge` has no timeout of its own; the pool (star.checker.pool) runs it in
worker processes that are killed when they overrun. Call it directly only
where a hang cannot hurt (tests, benchmarks, an already-killable worker).
"""

from __future__ import annotations

import re
from functools import lru_cache

from star.checker.compare import equivalent
from star.checker.extract import NUMBER_ITEM_RE, SEGMENT_RE, Extraction, extract, segment_text
from star.checker.latex import Unparseable
from star.checker.normalize import clean, strip_wrappers
from star.checker.values import Choice, Seq, Text, Value, interpret, normalize_text
from star.checker.verdict import Verdict

_MARKER_RE = re.compile(r"\\boxed|\\fbox|####|\banswer\s*(?:is|:)", re.IGNORECASE)
_PLAIN_TEXT_RE = re.compile(r"^[A-Za-z0-9\s'\-.,!?]+$")
_CHOICE_START_RE = re.compile(r"^\(?([A-E])\)?(?=[\s.:,)]|$)")
_CHOICE_ANYWHERE_RE = re.compile(
    r"\(([A-E])\)|\b(?i:option|choice)\s+\(?([A-E])\b|^\s*\(?([A-E])\)?[.:]?\s*$", re.MULTILINE
)
_KEEP_WORDS = {"and", "or", "sqrt", "pi", "sin", "cos", "tan", "log", "ln", "exp", "percent", "pct", "infty"}
_SHORT = 300


def _surface(text: str) -> str:
    return re.sub(r"\s+", "", clean(text).text)


def _prose_word(text: str) -> re.Match[str] | None:
    for match in re.finditer(r"(?<![\\A-Za-z])[A-Za-z]{3,}", text):
        if match.group(0).lower() not in _KEEP_WORDS:
            return match
    return None


@lru_cache(maxsize=8192)
def gold_answer(gold: str) -> tuple[str, Value]:
    """The gold's answer text and meaning; raises Unparseable when it has none."""
    text = gold.strip()
    if _MARKER_RE.search(text) or len(text) > _SHORT:
        found = extract(text, math_only=False)
        if found is None:
            raise Unparseable("gold answer states no answer")
        text = found.text
        if found.source == "truncated":  # gold is trusted: an unclosed box runs to the end
            text = re.sub(r"^\\(?:boxed|fbox)\s*\{", "", text)
    try:
        return text, interpret(text)
    except Unparseable:
        if _PLAIN_TEXT_RE.match(text) and normalize_text(text):
            return text, Text(normalize_text(text))
        raise


def can_parse_gold(gold: str) -> bool:
    """Whether the checker can interpret `gold`: a number, LaTeX, tuple / set /
    interval, choice letter, or non-empty plain text. Used to reject bad rows."""
    if not isinstance(gold, str) or not gold.strip():
        return False
    try:
        gold_answer(gold)
    except (Unparseable, RecursionError, MemoryError):
        return False
    return True


def _refinements(body: str) -> list[str]:
    """Narrower readings of an answer sentence: "72 apples, since ..." -> "72"."""
    out = []
    segment = SEGMENT_RE.match(body.lstrip())
    if segment:
        out.append(segment_text(segment))
    choice = _CHOICE_START_RE.match(body)
    if choice:
        out.append(choice.group(1))
    prose = _prose_word(body)
    if prose and prose.start() > 0:
        out.append(body[:prose.start()].strip(" ,;:"))
    for regex in (SEGMENT_RE, NUMBER_ITEM_RE):
        first = regex.search(body)
        if first:
            out.append(segment_text(first) if regex is SEGMENT_RE else first.group(0))
    return [o for o in dict.fromkeys(out) if o.strip() and o != body]


def _choice_readings(prediction: str, found: Extraction | None) -> list[tuple[str, ...]]:
    """For a multiple-choice gold: the letter that opens the stated answer
    ("The answer is (C) 12"), else the last "(C)" / "option C" in the text."""
    if found is not None and found.source != "last":
        letter = _CHOICE_START_RE.match(strip_wrappers(found.parts[0]))
        return [(letter.group(1),)] if letter else []
    letters = [next(g for g in m.groups() if g) for m in _CHOICE_ANYWHERE_RE.finditer(prediction)]
    return [(letters[-1],)] if letters else []


def candidates(prediction: str, gold: Value) -> list[tuple[str, ...]]:
    """Answer readings of a prediction, most faithful first."""
    math_only = not isinstance(gold, (Text, Choice))
    found: Extraction | None = extract(prediction, math_only=math_only)
    if isinstance(gold, Choice):
        return _choice_readings(prediction, found) + _readings(prediction, found, math_only)
    return _readings(prediction, found, math_only)


def _readings(prediction: str, found: Extraction | None, math_only: bool) -> list[tuple[str, ...]]:
    if found is not None and found.source != "last":
        # A box holds exactly the stated answer: it is read as written, never
        # narrowed to a number inside it ("\\boxed{\\zzz{3}}" is not 3).
        if len(found.parts) > 1 or found.source in ("truncated", "boxed"):
            return [found.parts]
        body = found.parts[0]
        prose = math_only and _prose_word(clean(body).text)
        return ([] if prose else [found.parts]) + [(r,) for r in _refinements(body)]
    out: list[tuple[str, ...]] = []
    whole = prediction.strip()
    # A bare answer ("x = 5", "\\frac{1}{2}") is one line; a multi-line
    # rationale without a marker is judged by its last number instead.
    bare = strip_wrappers(whole) and "\n" not in whole and len(whole) <= _SHORT
    if bare and not (math_only and _prose_word(clean(whole).text)):
        out.append((whole,))
    if found is not None:
        out.append(found.parts)
    return out


def _read(parts: tuple[str, ...]) -> Value:
    if len(parts) == 1:
        return interpret(parts[0])
    items: list[Value] = []
    for part in parts:  # several boxes: one list, flattened
        value = interpret(part)
        items.extend(value.items if isinstance(value, Seq) and value.kind == "list" else [value])
    return Seq("list", tuple(items))


def judge(prediction: str, gold: str) -> Verdict:
    """Judge one prediction against one gold answer, in this process."""
    try:
        gold_text, gold_value = gold_answer(gold)
    except (Unparseable, RecursionError, MemoryError):
        return Verdict(False, "unparseable", None)
    readings = candidates(prediction, gold_value)
    if not readings:
        return Verdict(False, "no_answer", None)
    gold_surface = _surface(gold_text)
    for parts in readings:
        extracted = " , ".join(strip_wrappers(p) for p in parts)
        if gold_surface and _surface(extracted) == gold_surface:
            return Verdict(True, "correct", extracted)
        try:
            value = _read(parts)
        except (Unparseable, RecursionError, MemoryError):
            continue
        try:
            ok = equivalent(gold_value, value)
        except (RecursionError, MemoryError, ArithmeticError, TypeError, ValueError, AttributeError,
                NotImplementedError):
            # sympy gave up on this pair: undecided is not correct.
            return Verdict(False, "unparseable", extracted)
        return Verdict(ok, "correct" if ok else "incorrect", extracted)
    return Verdict(False, "unparseable", " , ".join(strip_wrappers(p) for p in readings[0]))
