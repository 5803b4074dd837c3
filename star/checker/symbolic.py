"""Equality of two scalars: exact for rationals, proven by sympy otherwise.

Order of work, cheapest first: structural equality; exact rational
comparison (with the gold's stated decimal precision, if any); a numeric
evaluation at fixed sample points, which rejects almost every wrong answer
without calling `simplify`; then `simplify(a - b) == 0` as the proof. When
both sides are irrational constants that agree to 40 significant digits,
they are taken as equal without a proof (simplify is slow, and two closed
forms that coincide to 40 digits without being equal do not occur as
answers); symbolic answers always need simplify's proof.
"""

from __future__ import annotations

import sympy

_DIGITS = 50
_TOLERANCE = sympy.Rational(1, 10**40)
_SAMPLES = (sympy.Rational(-7, 3), sympy.Rational(5, 7), sympy.Rational(13, 5))


def finite(expr: sympy.Basic) -> bool:
    """False for nan, zoo and anything that is not a scalar expression."""
    return isinstance(expr, sympy.Expr) and not expr.has(sympy.nan, sympy.zoo)


def within_places(gold: sympy.Rational, pred: sympy.Rational, places: int | None) -> bool:
    """Exact equality, or agreement to the decimal places the gold answer states.

    The gold 16386.17 accepts 16386.1699 (it rounds half-up to the gold) but the
    gold 1/3 accepts no decimal at all: a fraction states infinite precision.
    """
    if gold == pred:
        return True
    if not places:
        return False
    half = sympy.Rational(1, 2 * 10**places)
    return bool(-half <= pred - gold < half)


def _numeric(expr: sympy.Expr, subs: dict[sympy.Symbol, sympy.Rational] | None = None) -> sympy.Expr | None:
    try:
        value = expr.evalf(_DIGITS, subs=subs) if subs else expr.evalf(_DIGITS)
    except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
        return None
    if not isinstance(value, sympy.Expr) or value.free_symbols or not value.is_number:
        return None
    if value.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return None
    return value


def _close(a: sympy.Expr, b: sympy.Expr) -> bool:
    scale = max(sympy.Integer(1), abs(a), abs(b))
    return bool(abs(a - b) <= _TOLERANCE * scale)


def _sample_points(symbols: set[sympy.Symbol]) -> list[dict[sympy.Symbol, sympy.Rational]]:
    ordered = sorted(symbols, key=lambda s: s.name)
    return [
        {s: value + sympy.Rational(k, 11) for k, s in enumerate(ordered)}
        for value in _SAMPLES
    ]


_UNEVALUATED = (sympy.Sum, sympy.Product, sympy.Integral, sympy.Limit, sympy.Derivative)


def numerically_equal(a: sympy.Expr, b: sympy.Expr) -> bool | None:
    """True / False when every sample point decides it, None when undecidable."""
    if a.has(*_UNEVALUATED) or b.has(*_UNEVALUATED):
        return None  # evalf would run Euler-Maclaurin or quadrature: slow, and not a proof
    symbols = a.free_symbols | b.free_symbols
    for subs in _sample_points(symbols) if symbols else [None]:
        va, vb = _numeric(a, subs), _numeric(b, subs)
        if va is None or vb is None:
            return None
        if not _close(va, vb):
            return False
    return True


# simplify alone misses identities such as sin(3x) = 3 sin x - 4 sin^3 x;
# expanding trigonometric arguments, or rewriting in exponentials, exposes them.
_PROOF_STEPS = (lambda e: e, sympy.expand_trig, lambda e: e.rewrite(sympy.exp))


def proven_equal(a: sympy.Expr, b: sympy.Expr) -> bool:
    """sympy's own proof that a - b is zero."""
    trigonometric = (a - b).has(sympy.functions.elementary.trigonometric.TrigonometricFunction,
                                sympy.functions.elementary.hyperbolic.HyperbolicFunction, sympy.exp)
    for step in _PROOF_STEPS if trigonometric else _PROOF_STEPS[:1]:
        try:
            difference = sympy.simplify(step(a - b))
        except (TypeError, ValueError, NotImplementedError, RecursionError, ArithmeticError, AttributeError):
            continue
        if difference == 0 or getattr(difference, "is_zero", False) is True:
            return True
    return False


def scalars_equal(gold: sympy.Basic, pred: sympy.Basic, places: int | None = None) -> bool:
    """Whether `pred` denotes the same scalar as `gold` (see the module docstring)."""
    if not (finite(gold) and finite(pred)):
        return False
    if gold == pred:
        return True
    if isinstance(gold, sympy.Rational) and isinstance(pred, sympy.Rational):
        return within_places(gold, pred, places)
    constant = not (gold.free_symbols or pred.free_symbols)
    if places and constant:
        value = _numeric(pred)
        return value is not None and bool(value.is_real) and within_places(
            gold, sympy.Rational(str(value)), places
        )
    numeric = numerically_equal(gold, pred)
    if numeric is False:
        return False
    # Symbolic answers need a proof: the sample points are fixed, not random.
    # A rational against an irrational closed form needs one too: a long
    # decimal agrees with sqrt(2) to 40 digits without being equal to it.
    if numeric is None or not constant or isinstance(gold, sympy.Rational) != isinstance(pred, sympy.Rational):
        return proven_equal(gold, pred)
    return True
