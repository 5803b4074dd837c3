"""Exact arithmetic on plain text, without eval and without floats.

A small tokenizer and recursive-descent parser over numbers, + - * / ^ and
parentheses, evaluated with `fractions.Fraction`, so `0.1+0.2` is exactly
`3/10` and 21-digit integers stay exact. It serves the step checker and the
checker's fast path for plain numeric answers; anything else is left to the
LaTeX parser. Every power is size-checked before it is computed.
"""

from __future__ import annotations

import re
from fractions import Fraction

from star.checker.limits import MAX_BITS, MAX_DIGITS, MAX_NESTING


class ArithError(ValueError):
    """The text is not plain arithmetic, or evaluating it would exceed the limits."""


# A number: thousands-separated or plain integer part, optional decimals, or a
# bare ".5". The separator form must be exact (1,234,567) to stay unambiguous.
NUMBER_RE = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_TOKEN_RE = re.compile(rf"\s*(?:(?P<num>{NUMBER_RE})|(?P<op>\*\*|[-+*/^()%×÷·x]))")
_OPS_MUL = {"*", "×", "·", "x"}
_OPS_DIV = {"/", "÷"}


def parse_number(text: str) -> tuple[Fraction, int]:
    """Return the exact value of a decimal literal and its number of decimal places."""
    clean = text.replace(",", "")
    if len(clean) > MAX_DIGITS:
        raise ArithError(f"number with more than {MAX_DIGITS} digits")
    whole, _, frac = clean.partition(".")
    if not (whole or frac) or not (whole + frac).isdigit():
        raise ArithError(f"not a decimal number: {text!r}")
    return Fraction(int(whole or "0") * 10 ** len(frac) + int(frac or "0"), 10 ** len(frac)), len(frac)


def tokenize(text: str) -> list[str]:
    """Split plain arithmetic into tokens; raise ArithError on anything else."""
    tokens: list[str] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ArithError(f"unexpected character {text[pos:pos + 1]!r} at {pos}")
        tokens.append(match.group("num") or match.group("op"))
        pos = match.end()
    return tokens


def _check_size(value: Fraction) -> Fraction:
    if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_BITS:
        raise ArithError("intermediate value too large")
    return value


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        raise ArithError("non-integer exponent is not plain arithmetic")
    size = max(base.numerator.bit_length(), base.denominator.bit_length())
    if size * abs(exponent.numerator) > MAX_BITS and abs(base) != 1:
        raise ArithError("power too large to evaluate")
    if base == 0 and exponent < 0:
        raise ArithError("division by zero")
    return base ** exponent.numerator


class _Parser:
    """expr := term (± term)*; term := unary (×÷ unary)*; unary := ±unary | power;
    power := atom [^ unary]; atom := number [%] | ( expr ) [%]."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise ArithError("unexpected end of expression")
        self.pos += 1
        return token

    def expr(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            op, rhs = self.take(), self.term()
            value = _check_size(value + rhs if op == "+" else value - rhs)
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while self.peek() in _OPS_MUL | _OPS_DIV:
            op, rhs = self.take(), self.unary()
            if op in _OPS_DIV:
                if rhs == 0:
                    raise ArithError("division by zero")
                value = _check_size(value / rhs)
            else:
                value = _check_size(value * rhs)
        return value

    def unary(self) -> Fraction:
        if self.peek() in ("-", "+"):
            sign = self.take()
            value = self.unary()
            return -value if sign == "-" else value
        return self.power()

    def power(self) -> Fraction:
        base = self.atom()
        if self.peek() in ("^", "**"):
            self.take()
            return _check_size(_power(base, self.unary()))
        return base

    def atom(self) -> Fraction:
        token = self.take()
        if token == "(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise ArithError("nesting too deep")
            value = self.expr()
            if self.take() != ")":
                raise ArithError("unbalanced parentheses")
            self.depth -= 1
        elif token[0].isdigit() or token[0] == ".":
            value = parse_number(token)[0]
        else:
            raise ArithError(f"unexpected {token!r}")
        if self.peek() == "%":
            self.take()
            value = value / 100
        return value


def evaluate(text: str) -> Fraction:
    """Evaluate plain arithmetic exactly, e.g. ``"48/2"`` -> ``Fraction(24)``.

    The letter x counts as multiplication ("0.2 x 50"), as GSM8K writes it.
    Raises ArithError for anything that is not plain arithmetic or is too large.
    """
    tokens = tokenize(text)
    if not tokens:
        raise ArithError("empty expression")
    parser = _Parser(tokens)
    value = parser.expr()
    if parser.pos != len(tokens):
        raise ArithError(f"unexpected {tokens[parser.pos]!r}")
    return value
