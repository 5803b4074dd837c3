"""Relations: assignments, equations, inequalities, and their solution sets.

An *assignment* is an equation chain whose left side only names something
(``x``, ``f(x)``, ``a_3``, ``|AB|``, ``(p, q)``): its meaning is its last right
side. Other equations are equal when one is a nonzero constant multiple of
the other (``2x + 4y - 3 = 0`` and ``y = -x/2 + 3/4``); inequalities when the
multiple is positive, after writing both as ``d > 0`` or ``d >= 0``. A
single-variable inequality or chain is also a set (``-2 <= x <= 7`` is
``[-2, 7]``), so it can be compared with an interval.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy
from sympy.core.function import AppliedUndef

from star.checker.values import Ival, Num, Rel, Seq, SetUnion, Text, Value, from_sympy

# compare.equivalent, passed in: relations compare their parts with it, and
# compare dispatches relations here.
Equivalence = Callable[[Value, Value], bool]
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_SYMPY_REL = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge}


def _names_something(expr: sympy.Basic) -> bool:
    if isinstance(expr, sympy.Symbol):
        return True
    if isinstance(expr, AppliedUndef):
        return all(isinstance(a, (sympy.Symbol, sympy.Number)) for a in expr.args)
    if isinstance(expr, sympy.Pow):  # A/B is A * B**-1
        return _names_something(expr.base) and expr.exp == -1
    if isinstance(expr, (sympy.Mul, sympy.Abs)):
        return all(_names_something(a) for a in expr.args)
    return False


def _variable(value: Value) -> bool:
    """A plain variable or f(x): what an interval's chain may constrain."""
    return isinstance(value, Num) and isinstance(value.expr, (sympy.Symbol, AppliedUndef))


def symbol_like(value: Value) -> bool:
    """Whether a value only names something: x, f(x), a_3, |AB|, A:B, (p, q)."""
    if isinstance(value, Text):
        return True
    if isinstance(value, Num):
        return _names_something(value.expr)
    if isinstance(value, Seq):
        return value.kind == "tuple" and all(symbol_like(i) for i in value.items)
    return False


def is_assignment(rel: Rel) -> bool:
    return all(op == "=" for op in rel.ops) and symbol_like(rel.parts[0])


def same_lhs(gold: Rel, pred: Rel, equivalent: Equivalence) -> bool:
    """Same name on the left; f(n) and f(x) name the same function."""
    g, p = gold.parts[0], pred.parts[0]
    if isinstance(g, Num) and isinstance(p, Num):
        a, b = g.expr, p.expr
        if isinstance(a, AppliedUndef) and isinstance(b, AppliedUndef):
            return a.func == b.func and len(a.args) == len(b.args)
        return a == b
    return equivalent(g, p)


def renamed_rhs(gold: Rel, pred: Rel) -> Value:
    """The prediction's value with f(t) = ... renamed to the gold's f(x) = ..."""
    g, p, rhs = gold.parts[0], pred.parts[0], pred.parts[-1]
    if not (isinstance(g, Num) and isinstance(p, Num) and isinstance(rhs, Num)):
        return rhs
    if isinstance(g.expr, AppliedUndef) and isinstance(p.expr, AppliedUndef):
        mapping = dict(zip(p.expr.args, g.expr.args))
        return Num(rhs.expr.xreplace(mapping), rhs.places, rhs.percent)
    return rhs


def _difference(rel_op: str, lhs: sympy.Expr, rhs: sympy.Expr) -> tuple[str, sympy.Expr]:
    """Write `lhs op rhs` as `d op' 0` with op' one of =, !=, >, >=."""
    if rel_op in ("<", "<="):
        return _FLIP[rel_op], rhs - lhs
    return rel_op, lhs - rhs


def _constant_ratio(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr | None:
    if a == 0 or b == 0:
        return None
    try:
        ratio = sympy.cancel(sympy.together(a / b))
        if ratio.free_symbols:
            ratio = sympy.simplify(ratio)
    except (TypeError, ValueError, NotImplementedError, ArithmeticError):
        return None
    if ratio.free_symbols or not ratio.is_number or ratio == 0 or ratio.has(sympy.zoo, sympy.nan):
        return None
    return ratio


def _single_equal(
    g_op: str, g: tuple[Value, ...], p_op: str, p: tuple[Value, ...], equivalent: Equivalence
) -> bool:
    if not all(isinstance(v, Num) for v in (*g, *p)):
        return g_op == p_op and equivalent(g[0], p[0]) and equivalent(g[1], p[1])
    if "in" in (g_op, p_op) or "notin" in (g_op, p_op):
        return False
    g_op, g_diff = _difference(g_op, g[0].expr, g[1].expr)
    p_op, p_diff = _difference(p_op, p[0].expr, p[1].expr)
    if g_op != p_op and not (g_op in ("=", "!=") and p_op == g_op):
        return False
    ratio = _constant_ratio(g_diff, p_diff)
    if ratio is None:
        return False
    return g_op in ("=", "!=") or bool(ratio.is_positive)


def relations_equal(gold: Rel, pred: Rel, equivalent: Equivalence) -> bool:
    """Link by link: the same number of relations, each equivalent."""
    if len(gold.ops) != len(pred.ops):
        return False
    return all(
        _single_equal(g_op, gold.parts[i:i + 2], p_op, pred.parts[i:i + 2], equivalent)
        for i, (g_op, p_op) in enumerate(zip(gold.ops, pred.ops))
    )


def as_interval(rel: Rel) -> Value | None:
    """The set a one-variable relation describes, or None."""
    if rel.ops == ("in",) and symbol_like(rel.parts[0]):
        return rel.parts[1]
    if any(op not in _SYMPY_REL for op in rel.ops):
        return None
    ops, parts = list(rel.ops), list(rel.parts)
    if len(ops) == 1 and _variable(parts[0]):  # x op a  ->  a flip(op) x
        ops, parts = [_FLIP[ops[0]]], [parts[1], parts[0]]
    if len(ops) == 1 and _variable(parts[1]) and isinstance(parts[0], Num):
        return _half_line(ops[0], parts[0])
    if len(ops) == 2 and isinstance(parts[0], Num) and isinstance(parts[2], Num):
        if ops[0][0] != ops[1][0]:
            return None
        if ops[0][0] == ">":
            ops, parts = [_FLIP[ops[1]], _FLIP[ops[0]]], parts[::-1]
        if _variable(parts[1]):
            return Ival(parts[0], parts[2], ops[0] == "<=", ops[1] == "<=")
        return _solve_chain(ops, parts)
    return None


def _half_line(op: str, value: Num) -> Value | None:
    """`value op x`: a < x is (a, oo); a > x is (-oo, a)."""
    if value.expr.free_symbols:
        return None
    if op in ("<", "<="):
        return Ival(value, Num(sympy.oo), op == "<=", False)
    return Ival(Num(-sympy.oo), value, False, op == ">=")


def _solve_chain(ops: list[str], parts: list[Value]) -> Value | None:
    """a <= f(x) <= b with one variable: let sympy find the solution set."""
    middle = parts[1]
    if not isinstance(middle, Num) or len(middle.expr.free_symbols) != 1:
        return None
    condition = sympy.And(
        _SYMPY_REL[ops[0]](parts[0].expr, middle.expr), _SYMPY_REL[ops[1]](middle.expr, parts[2].expr)
    )
    try:
        return from_sympy(condition.as_set())
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        return None


def set_of(value: Value) -> sympy.Set | None:
    """A sympy set for an interval-like value, for union comparisons."""
    if isinstance(value, Ival):
        return sympy.Interval(value.lo.expr, value.hi.expr, not value.lo_closed, not value.hi_closed)
    if isinstance(value, SetUnion):
        parts = [set_of(p) for p in value.parts]
        return None if None in parts else sympy.Union(*parts)
    if isinstance(value, Seq) and all(isinstance(i, Num) for i in value.items):
        if value.kind == "tuple" and len(value.items) == 2:
            return sympy.Interval.open(value.items[0].expr, value.items[1].expr)
        if value.kind != "tuple":
            return sympy.FiniteSet(*(i.expr for i in value.items))
    return None
