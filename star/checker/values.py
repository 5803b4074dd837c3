"""What an answer means: numbers, relations, tuples, sets, intervals, text.

An extracted answer is read top-down: lists split at top-level commas,
semicolons, "and" / "or"; relations at top-level ``=``, ``<``, ``\\le``, ...;
unions at ``\\cup``; brackets decide tuple, set or interval; ``\\pm`` expands
into two values; what remains is a scalar, read exactly by the arithmetic fast
path or by the LaTeX parser. Structure is split here, so the LaTeX parser only
ever sees one scalar or matrix at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

import sympy
from sympy.matrices import MatrixBase

from star.checker.arith import ArithError, evaluate, parse_number
from star.checker.latex import Unparseable, parse_latex
from star.checker.limits import MAX_ANSWER_CHARS, MAX_ELEMENTS, MAX_NESTING
from star.checker.normalize import clean, depths


@dataclass(frozen=True)
class Num:
    """A scalar (number or symbolic expression), exact and evaluated."""

    expr: sympy.Basic
    places: int | None = None  # decimal places when written as a plain decimal
    percent: bool = False


@dataclass(frozen=True)
class Rel:
    """A relation or chain of relations: parts[0] ops[0] parts[1] ops[1] ..."""

    parts: tuple[Value, ...]
    ops: tuple[str, ...]


@dataclass(frozen=True)
class Seq:
    """kind "tuple" is ordered; "set" ({...}) and "list" (bare a, b, c) are not."""

    kind: str
    items: tuple[Value, ...]


@dataclass(frozen=True)
class Ival:
    lo: Num
    hi: Num
    lo_closed: bool
    hi_closed: bool


@dataclass(frozen=True)
class SetUnion:
    parts: tuple[Value, ...]


@dataclass(frozen=True)
class Mat:
    matrix: sympy.ImmutableMatrix


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Choice:
    letter: str


@dataclass(frozen=True)
class Alt:
    """An ambiguous surface form ("1,5": 1.5 or the list 1, 5); any reading may match."""

    options: tuple[Value, ...]


Value = Union[Num, Rel, Seq, Ival, SetUnion, Mat, Text, Choice, Alt]

_LIST_SEP_RE = re.compile(r",|\s+(?:and|or)\s+|\s*\bor\b\s*(?=[(\[\\])")
_REL_RE = re.compile(
    r"\\(?:leq?|geq?|lt|gt|neq?|approx|in|notin)(?![A-Za-z])|<=|>=|!=|≤|≥|≠|≈|=|<|>"
)
_REL_NAMES = {
    "\\le": "<=", "\\leq": "<=", "<=": "<=", "≤": "<=", "\\ge": ">=", "\\geq": ">=", ">=": ">=",
    "≥": ">=", "\\lt": "<", "<": "<", "\\gt": ">", ">": ">", "\\ne": "!=", "\\neq": "!=", "!=": "!=",
    "≠": "!=", "=": "=", "\\approx": "~", "≈": "~", "\\in": "in", "\\notin": "notin",
}
_PLAIN_ARITH_RE = re.compile(r"^[\d\s.+\-*/^()]+$")
_DECIMAL_RE = re.compile(r"^-?(?:\d+(?:\.\d+)?|\.\d+)$")
_DECIMAL_COMMA_RE = re.compile(r"^-?\d+,\d+$")
_CHOICE_RE = re.compile(r"^\(?([A-E])\)?$")
_PROSE_RE = re.compile(r"^[A-Za-z][A-Za-z\s'\-.,!?]*$")


def split_top(text: str, regex: re.Pattern[str]) -> tuple[list[str], list[str]]:
    """Split `text` at matches of `regex` outside any brackets: (pieces, separators)."""
    level = depths(text)
    pieces, seps, start = [], [], 0
    for match in regex.finditer(text):
        if level[match.start()] == 0 and match.start() >= start:
            pieces.append(text[start:match.start()])
            seps.append(match.group(0))
            start = match.end()
    pieces.append(text[start:])
    return pieces, seps


def interpret(text: str, depth: int = 0) -> Value:
    """Read one answer; raise Unparseable when it is not an answer we can read."""
    if depth > MAX_NESTING:
        raise Unparseable("answer nested too deeply")
    if len(text) > 4 * MAX_ANSWER_CHARS:  # before any regex runs over it
        raise Unparseable(f"answer longer than {4 * MAX_ANSWER_CHARS} characters")
    cleaned = clean(text)
    value = _interpret_clean(cleaned.text, depth)
    if cleaned.percent and isinstance(value, Num):
        value = Num(value.expr, value.places, percent=True)
    return value


def _interpret_clean(s: str, depth: int) -> Value:
    s = s.replace("\\langle", "(").replace("\\rangle", ")")
    if not s:
        raise Unparseable("empty answer")
    if _DECIMAL_COMMA_RE.match(s):
        whole, frac = s.split(",")
        return Alt((_scalar(f"{whole}.{frac}"), _list([whole, frac], "list", depth)))
    pieces, _ = split_top(s, re.compile(";"))
    if len(pieces) > 1:
        return _list(pieces, "list", depth)
    pieces, _ = split_top(s, _LIST_SEP_RE)
    if len(pieces) > 1:
        return _list(pieces, "list", depth)
    pieces, ops = split_top(s, _REL_RE)
    if len(pieces) > 1:
        return _relation(pieces, [_REL_NAMES[o] for o in ops], depth)
    pieces, _ = split_top(s, re.compile(r"\\cup(?![A-Za-z])"))
    if len(pieces) > 1:
        return SetUnion(tuple(interpret(p, depth + 1) for p in pieces))
    if re.search(r"\\[pm]m(?![A-Za-z])", s):
        if len(re.findall(r"\\[pm]m(?![A-Za-z])", s)) > 4:  # each one doubles the answer
            raise Unparseable("more than four \\pm in one answer")
        return _plus_minus(s, depth)
    bracketed = _bracketed(s, depth)
    if bracketed is not None:
        return bracketed
    if _CHOICE_RE.match(s):
        return Choice(_CHOICE_RE.match(s).group(1))
    if _PROSE_RE.match(s) and re.search(r"[A-Za-z]{3}", s):
        return Text(normalize_text(s))
    return _scalar(s)


def normalize_text(text: str) -> str:
    """Lowercase words without punctuation: how plain-text answers are compared."""
    text = re.sub(r"\\text\w*\{([^{}]*)\}", r"\1", text)
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _list(pieces: list[str], kind: str, depth: int) -> Seq:
    pieces = [p for p in pieces if p.strip()]
    if len(pieces) > MAX_ELEMENTS:
        raise Unparseable(f"more than {MAX_ELEMENTS} elements")
    if not pieces:
        raise Unparseable("empty list")
    return Seq(kind, tuple(interpret(p, depth + 1) for p in pieces))


def _relation(pieces: list[str], ops: list[str], depth: int) -> Value:
    """x = 5+5+1 = 1/3 \\approx 0.33: an approximation after an equation is an
    aside, dropped; an approximation alone ("x \\approx 11") is the answer."""
    if len(pieces) > MAX_ELEMENTS:
        raise Unparseable(f"more than {MAX_ELEMENTS} links in a relation chain")
    while len(ops) > 1 and ops[-1] == "~" and "=" in ops[:-1]:
        ops, pieces = ops[:-1], pieces[:-1]
    ops = ["=" if op == "~" else op for op in ops]
    try:
        return Rel(tuple(interpret(p, depth + 1) for p in pieces), tuple(ops))
    except Unparseable:
        # "1 = \\zzz = x = 0": a chain of equalities is worth its last link
        # even when an intermediate step cannot be read.
        if len(ops) > 1 and all(op == "=" for op in ops):
            return interpret(pieces[-1], depth + 1)
        raise


def _plus_minus(s: str, depth: int) -> Seq:
    match = re.search(r"\\[pm]m(?![A-Za-z])", s)
    first, second = ("+", "-") if match.group(0) == "\\pm" else ("-", "+")
    head, tail = s[:match.start()], s[match.end():]
    return Seq("set", (interpret(head + first + tail, depth + 1), interpret(head + second + tail, depth + 1)))


def _bracketed(s: str, depth: int) -> Value | None:
    """Tuples, sets and intervals: the whole answer is one bracket group."""
    opener = "\\{" if s.startswith("\\{") else s[0]
    if opener not in ("(", "[", "\\{", "{") or s[-1] not in ")]}":
        return None
    level = depths(s)
    if level[-1] != 0 or min(level[len(opener):-1], default=1) < 1:
        return None  # the first group closes before the end: "(2)(3)"
    inner = s[len(opener):-2 if s.endswith("\\}") else -1]
    if opener == "{":  # a TeX group only groups: {1,3} is 1,3
        return interpret(inner, depth + 1)
    pieces, _ = split_top(inner, re.compile(r"[,;]"))
    if opener == "\\{":
        return _list(pieces, "set", depth)
    if len(pieces) == 1:
        return interpret(inner, depth + 1) if opener == "(" and s[-1] == ")" else None
    if len(pieces) == 2 and (opener == "[" or s[-1] == "]"):
        lo, hi = (interpret(p, depth + 1) for p in pieces)
        if isinstance(lo, Num) and isinstance(hi, Num):
            return Ival(lo, hi, opener == "[", s[-1] == "]")
    return _list(pieces, "tuple", depth)


def _scalar(s: str) -> Value:
    if _PLAIN_ARITH_RE.match(s):
        try:
            value = evaluate(s)
        except ArithError:
            pass
        else:
            places = parse_number(s.lstrip("-"))[1] if _DECIMAL_RE.match(s) else None
            return Num(sympy.Rational(value.numerator, value.denominator), places)
    return from_sympy(parse_latex(s))


def from_sympy(obj: sympy.Basic | MatrixBase) -> Value:
    """Wrap what the LaTeX parser returned; structure it found becomes ours."""
    if isinstance(obj, MatrixBase):
        return Mat(sympy.ImmutableMatrix(obj))
    if isinstance(obj, sympy.Interval):
        return Ival(Num(obj.start), Num(obj.end), not obj.left_open, not obj.right_open)
    if isinstance(obj, sympy.FiniteSet):
        return Seq("set", tuple(from_sympy(a) for a in obj.args))
    if isinstance(obj, sympy.Tuple):
        return Seq("tuple", tuple(from_sympy(a) for a in obj.args))
    if isinstance(obj, sympy.Union):
        return SetUnion(tuple(from_sympy(a) for a in obj.args))
    if isinstance(obj, (sympy.Set, sympy.logic.boolalg.Boolean)) and not isinstance(obj, sympy.Expr):
        raise Unparseable(f"unsupported answer type {type(obj).__name__}")
    return Num(obj)
