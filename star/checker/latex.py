"""LaTeX to sympy, safely: whitelist, parse, bound, then evaluate exactly.

Parsing is done by latex2sympy2_extended's ANTLR grammar, so what reaches sympy
is built from grammar tokens, never from `sympify` of raw text. Before parsing
every LaTeX command must be on a whitelist (matrix-building operators such as
``\\operatorname{eye}`` are evaluated eagerly by the parser and are refused).
The parser returns an unevaluated tree; its magnitude is bounded here before
anything is evaluated, and decimal literals become exact rationals, so that no
answer passes through a binary float.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache

import sympy
from antlr4.atn.PredictionMode import PredictionMode
from latex2sympy2_extended.latex2sympy2 import ConversionConfig, _Latex2Sympy
from latex2sympy2_extended.math_normalization import NormalizationConfig, normalize_latex
from sympy.matrices import MatrixBase
from sympy.matrices.expressions import MatrixExpr

from star.checker.limits import (
    MAX_ANSWER_CHARS,
    MAX_BITS,
    MAX_DIGITS,
    MAX_FACTORIAL,
    MAX_MATRIX_SIDE,
    MAX_NESTING,
    MAX_NODES,
)


class Unparseable(ValueError):
    """The answer text cannot be read as mathematics (or is too large to evaluate)."""


_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "omicron pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell"
)
ALLOWED_COMMANDS = frozenset(
    (
        "frac dfrac tfrac cfrac sqrt cdot times div pm mp infty le ge leq geq lt gt ne neq approx "
        "in notin cup cap setminus emptyset varnothing sin cos tan sec csc cot arcsin arccos arctan "
        "arccot arcsec arccsc sinh cosh tanh log ln exp binom dbinom tbinom choose circ degree prime "
        "ldots cdots dots sum prod lim to int partial mathit mathbb mathrm mathbf operatorname "
        "lfloor rfloor lceil rceil floor ceil vert lvert rvert mid langle rangle lbrace rbrace "
        "lbrack rbrack max min gcd lcm mod bmod pmod begin end hat bar vec overline tilde dot "
        "boxed left right quad qquad text"
    ).split()
    + _GREEK.split()
)
_ENVIRONMENTS = frozenset("pmatrix bmatrix matrix vmatrix Bmatrix array smallmatrix".split())
# latex2sympy2_extended evaluates these eagerly at parse time (matrix builders,
# decompositions): a few characters can allocate gigabytes.
_EAGER_OPERATORS_RE = re.compile(
    r"\\operatorname\s*\{?\s*(?:eye|zeros|ones|diag|rank|trace|tr|rref|nullspace|norm|cols|rows|eig\w*|"
    r"diagonalize|svd|SVD|hstack|vstack|orth\w*)\b|\\det\b|\\xrightarrow"
)
_COMMAND_RE = re.compile(r"\\([A-Za-z]+)")
NORMALIZATION = NormalizationConfig(
    basic_latex=True, units=True, malformed_operators=True, nits=True, boxed="all", equations=False
)
CONVERSION = ConversionConfig(interpret_as_mixed_fractions=True, lowercase_symbols=True)
_FACTORIAL_LIKE = (sympy.factorial, sympy.factorial2, sympy.binomial, sympy.gamma, sympy.subfactorial)


def precheck(text: str) -> None:
    """Refuse text that is too long, too deep or uses commands off the whitelist."""
    if len(text) > MAX_ANSWER_CHARS:
        raise Unparseable(f"answer longer than {MAX_ANSWER_CHARS} characters")
    depth = 0
    for ch in text:
        depth += ch in "{([" and 1 or (-1 if ch in "})]" else 0)
        if depth > MAX_NESTING:
            raise Unparseable(f"nesting deeper than {MAX_NESTING}")
    unescaped = re.sub(r"\\[{}]", "", text)
    if unescaped.count("{") != unescaped.count("}"):
        raise Unparseable("unbalanced braces")
    for command in _COMMAND_RE.findall(text):
        if command not in ALLOWED_COMMANDS:
            raise Unparseable(f"LaTeX command \\{command} is not supported")
    for env in re.findall(r"\\begin\s*\{([^}]*)\}", text):
        if env.strip() not in _ENVIRONMENTS:
            raise Unparseable(f"LaTeX environment {env} is not supported")
    if _EAGER_OPERATORS_RE.search(text):
        raise Unparseable("eagerly evaluated matrix operators are not supported")


def _int_bits(n: int) -> float:
    return float(abs(n).bit_length())


def _float_to_rational(value: sympy.Float) -> sympy.Rational:
    """The decimal a Float was written as, exactly (latex2sympy reads "0.1" as a Float)."""
    sign, man, exp, _ = value._mpf_
    if man and abs(exp) + man.bit_length() > MAX_BITS:
        raise Unparseable("number too large")
    # str() prints the Float at the precision it was read with, so the decimal
    # the text contained comes back exactly ("0.1" -> 1/10, not 3602879701896397/2**55).
    return sympy.Rational(Fraction(str(value)))


def magnitude(expr: sympy.Basic, budget: list[int]) -> float:
    """Upper bound of log2|value| over the numeric parts of `expr`; raises if too big.

    `budget` is a one-element node counter shared over the walk.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise Unparseable(f"more than {MAX_NODES} nodes")
    if isinstance(expr, sympy.Integer):
        return _int_bits(int(expr))
    if isinstance(expr, sympy.Rational):
        return max(_int_bits(expr.p), _int_bits(expr.q))
    if isinstance(expr, sympy.Float):
        _float_to_rational(expr)
        return float(max(0, expr._mpf_[2] + expr._mpf_[1].bit_length()))
    args = [magnitude(a, budget) for a in expr.args]
    if isinstance(expr, (sympy.Pow, sympy.matrices.expressions.MatPow)):
        result = _power_bits(expr, args)
    elif isinstance(expr, sympy.Mul):
        result = sum(args)
    elif isinstance(expr, sympy.Add):
        result = max(args, default=0.0) + math.log2(max(1, len(args)))
    elif isinstance(expr, _FACTORIAL_LIKE):
        if max(args, default=0.0) > math.log2(MAX_FACTORIAL):
            raise Unparseable("factorial argument too large")
        result = MAX_FACTORIAL * math.log2(MAX_FACTORIAL) if args else 0.0
    elif isinstance(expr, sympy.exp):
        result = 1.5 * 2 ** min(args[0], 64.0)
    else:
        result = max(args, default=2.0)
    if result > MAX_BITS:
        raise Unparseable("value too large to evaluate")
    return result


def _power_bits(expr: sympy.Basic, args: list[float]) -> float:
    base, exponent = expr.args
    if base in (sympy.S.Zero, sympy.S.One, sympy.S.NegativeOne) or not args[0]:
        return 0.0
    if isinstance(exponent, sympy.Rational):
        size = abs(Fraction(int(exponent.p), int(exponent.q)))
    elif exponent.free_symbols:
        return args[0]
    else:
        size = 2 ** min(args[1], 64.0)
    if isinstance(expr, sympy.matrices.expressions.MatPow) and size > 64:
        raise Unparseable("matrix power too large")
    return float(args[0] * size)


def rebuild(expr: sympy.Basic) -> sympy.Basic:
    """Evaluate a bounded tree: exact rationals for decimals, sympy.I for i."""
    if isinstance(expr, sympy.Float):
        return _float_to_rational(expr)
    if isinstance(expr, sympy.Symbol):
        return sympy.I if expr.name == "i" else expr
    if isinstance(expr, sympy.UnevaluatedExpr):
        return rebuild(expr.args[0])
    if isinstance(expr, MatrixBase):
        return expr.applyfunc(rebuild)
    if not expr.args:
        return expr
    # Rebuilding evaluates arithmetic but not sums, integrals or limits: their
    # constructors leave them unevaluated (nothing here calls doit()).
    result = expr.func(*[rebuild(a) for a in expr.args])
    if isinstance(result, MatrixExpr):
        result = result.doit()
    return result


_FRACTION_RE = re.compile(r"^(-?)\\[dtc]?frac\s*(?:\{\s*(\d{1,40})\s*\}|(\d))\s*(?:\{\s*(\d{1,40})\s*\}|(\d))$")
_LETTER_RE = re.compile(r"^[A-DF-HJ-Za-df-hj-z]$")  # not e / i: those are constants
_INFINITY_RE = re.compile(r"^([-+]?)\s*\\infty$")


def _atom(text: str) -> sympy.Basic | None:
    """The parser's own result for the commonest atoms, without running ANTLR:
    \\frac{1}{3}, -\\frac13, a single variable, \\infty."""
    if _LETTER_RE.match(text):
        return sympy.Symbol(text.lower(), real=True)
    match = _FRACTION_RE.match(text)
    if match:
        sign, num, num1, den, den1 = match.groups()
        value = sympy.Rational(int(num or num1), int(den or den1))
        return -value if sign else value
    match = _INFINITY_RE.match(text)
    if match:
        return -sympy.oo if match.group(1) == "-" else sympy.oo
    return None


class _TwoStageParser(_Latex2Sympy):
    """latex2sympy2_extended's converter with ANTLR's two-stage parsing.

    The fast SLL prediction mode is tried first; where it reports a syntax
    error the text is parsed again in the default full-LL mode. SLL never
    accepts what LL rejects, and on 2,778 answers (MATH-500, math-verify's
    cases, generated expressions) every SLL parse equalled the LL parse; it is
    about three times faster.
    """

    sll = True

    def create_parser(self, latex_str: str):  # type: ignore[no-untyped-def]
        parser = super().create_parser(latex_str)
        if self.sll:
            parser._interp.predictionMode = PredictionMode.SLL
        return parser

    def parse_number(self, text: str) -> sympy.Rational:
        """A NUMBER token as an exact rational. The parent hands the token to
        sympy.Number, i.e. to sympify and eval; this reads it with Fraction."""
        text = text.replace(",", "")
        mantissa, _, exponent = text.lower().partition("e")
        if len(mantissa) > MAX_DIGITS or len(exponent) > 3:
            raise Unparseable("number too large")
        value = Fraction(text)
        return sympy.Rational(value.numerator, value.denominator)


def convert(normalized: str) -> object:
    converter = _TwoStageParser(None, is_real=True, convert_degrees=False, config=CONVERSION)
    try:
        return converter.parse(normalized)
    except (RecursionError, MemoryError, Unparseable):
        raise
    except Exception:  # the grammar raises plain Exception on syntax errors
        converter.sll = False
        return converter.parse(normalized)


@lru_cache(maxsize=4096)
def parse_latex(text: str) -> sympy.Basic | MatrixBase:
    """Parse one scalar or matrix LaTeX answer into an exact, evaluated sympy object.

    Cached: a worker sees the same gold answer once per sample of a problem.
    """
    atom = _atom(text.strip())
    if atom is not None:
        return atom
    precheck(text)
    normalized = normalize_latex(text, NORMALIZATION)
    precheck(normalized)
    if not normalized.strip():
        raise Unparseable("empty answer")
    try:
        expr = convert(normalized)
    except (RecursionError, MemoryError) as exc:
        raise Unparseable(f"too complex: {type(exc).__name__}") from exc
    except Exception as exc:  # the grammar raises plain Exception on syntax errors
        raise Unparseable(f"not LaTeX the parser understands: {str(exc).splitlines()[0][:80]}") from exc
    return bounded(expr)


def bounded(expr: object) -> sympy.Basic | MatrixBase:
    """Bound and evaluate what the parser returned; refuse what is not an expression."""
    if isinstance(expr, MatrixBase):
        if max(expr.shape) > MAX_MATRIX_SIDE:
            raise Unparseable("matrix too large")
        for element in expr:
            magnitude(element, [MAX_NODES])
        return rebuild(expr)
    if not isinstance(expr, sympy.Basic):
        raise Unparseable(f"unsupported result {type(expr).__name__}")
    magnitude(expr, [MAX_NODES])
    try:
        return rebuild(expr)
    except (RecursionError, MemoryError) as exc:
        raise Unparseable(f"too complex: {type(exc).__name__}") from exc
