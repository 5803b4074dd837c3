"""Equivalence of two interpreted answers, led by the gold answer's shape.

The comparison is asymmetric on purpose: a gold ``x = 5`` accepts ``5`` (the
prediction need not repeat the variable) and a prediction ``x = 5`` is judged
by its right-hand side against a gold ``5``; but a gold equation such as
``2x + z = 1`` is not satisfied by ``1``.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy

from star.checker.relations import (
    as_interval,
    is_assignment,
    relations_equal,
    renamed_rhs,
    same_lhs,
    set_of,
)
from star.checker.symbolic import scalars_equal
from star.checker.values import Alt, Choice, Ival, Mat, Num, Rel, Seq, SetUnion, Text, Value


def equivalent(gold: Value, pred: Value) -> bool:
    """Whether `pred` states the same answer as `gold`."""
    if isinstance(gold, Alt):
        return any(equivalent(option, pred) for option in gold.options)
    if isinstance(pred, Alt):
        return any(equivalent(gold, option) for option in pred.options)
    if isinstance(gold, Rel) or isinstance(pred, Rel):
        return _relations(gold, pred)
    if isinstance(gold, Seq) or isinstance(pred, Seq):
        return _sequences(gold, pred)
    if type(gold) is not type(pred):
        return _mixed(gold, pred)
    return _SAME_TYPE[type(gold)](gold, pred)


def _relations(gold: Value, pred: Value) -> bool:
    if isinstance(gold, Rel) and isinstance(pred, Rel):
        if is_assignment(gold) and is_assignment(pred):
            return same_lhs(gold, pred, equivalent) and equivalent(gold.parts[-1], renamed_rhs(gold, pred))
        interval = as_interval(gold), as_interval(pred)
        if None not in interval:
            return equivalent(*interval)
        return relations_equal(gold, pred, equivalent)
    if isinstance(gold, Rel):
        if is_assignment(gold) or gold.ops == ("in",):
            return equivalent(gold.parts[-1], pred)
        interval = as_interval(gold)
        return interval is not None and equivalent(interval, pred)
    assert isinstance(pred, Rel)
    if all(op == "=" for op in pred.ops) or (pred.ops == ("in",) and is_assignment(Rel(pred.parts, ("=",)))):
        return equivalent(gold, pred.parts[-1])
    interval = as_interval(pred)
    return interval is not None and equivalent(gold, interval)


def _matches(items: tuple[Value, ...], others: tuple[Value, ...]) -> bool:
    return all(any(equivalent(a, b) for b in others) for a in items)


def _sequences(gold: Value, pred: Value) -> bool:
    # One value against a collection: a tuple must have one element; a list or
    # set may repeat it ("\\boxed{840} ... \\boxed{840}").
    if not isinstance(pred, Seq):
        if gold.kind == "tuple":
            return len(gold.items) == 1 and equivalent(gold.items[0], pred)
        return all(equivalent(g, pred) for g in gold.items)
    if not isinstance(gold, Seq):
        if len(pred.items) == 1 or pred.kind != "tuple" and not isinstance(gold, (Mat, Ival)):
            return all(equivalent(gold, p) for p in pred.items)
        if isinstance(gold, Mat) and pred.kind != "set":
            return _vector_equal(gold, pred)
        if isinstance(gold, Ival) and pred.kind == "tuple" and len(pred.items) == 2:
            return not (gold.lo_closed or gold.hi_closed) and _ordered(Seq("tuple", (gold.lo, gold.hi)), pred)
        return False
    if "tuple" in (gold.kind, pred.kind):
        if {gold.kind, pred.kind} == {"tuple", "set"}:
            return False
        return _ordered(_assignment_values(gold), _assignment_values(pred))
    # Unordered: every element has an equal on the other side (repeats allowed).
    return _matches(gold.items, pred.items) and _matches(pred.items, gold.items)


def _assignment_values(seq: Seq) -> Seq:
    """"p=5, q=2" read as the tuple (5, 2) when compared with a tuple."""
    if seq.kind == "list" and seq.items and all(isinstance(i, Rel) and is_assignment(i) for i in seq.items):
        return Seq("tuple", tuple(i.parts[-1] for i in seq.items))
    return seq


def _ordered(gold: Seq, pred: Seq) -> bool:
    return len(gold.items) == len(pred.items) and all(
        equivalent(g, p) for g, p in zip(gold.items, pred.items)
    )


def _vector_equal(gold: Mat, pred: Seq) -> bool:
    cells = list(gold.matrix)
    return 1 in gold.matrix.shape and _ordered(Seq("tuple", tuple(Num(c) for c in cells)), pred)


def _numbers(gold: Num, pred: Num) -> bool:
    if scalars_equal(gold.expr, pred.expr, gold.places):
        return True
    # 28% is 28 (the sign was dropped) or 0.28 (the sign was applied).
    if gold.percent and not pred.percent:
        return scalars_equal(gold.expr / 100, pred.expr)
    if pred.percent and not gold.percent:
        return scalars_equal(gold.expr, pred.expr / 100, gold.places)
    return False


def _intervals(gold: Ival, pred: Ival) -> bool:
    return (
        gold.lo_closed == pred.lo_closed
        and gold.hi_closed == pred.hi_closed
        and _numbers(gold.lo, pred.lo)
        and _numbers(gold.hi, pred.hi)
    )


def _unions(gold: SetUnion, pred: SetUnion) -> bool:
    same_size = len(gold.parts) == len(pred.parts)
    if same_size and _matches(gold.parts, pred.parts) and _matches(pred.parts, gold.parts):
        return True
    return _as_sets_equal(gold, pred)


def _as_sets_equal(gold: Value, pred: Value) -> bool:
    """Fallback for unions that are written differently: compare as sympy sets."""
    a, b = set_of(gold), set_of(pred)
    if a is None or b is None:
        return False
    try:
        return bool(a == b or sympy.Complement(a, b) == sympy.S.EmptySet == sympy.Complement(b, a))
    except (TypeError, ValueError, NotImplementedError):
        return False


def _matrices(gold: Mat, pred: Mat) -> bool:
    return gold.matrix.shape == pred.matrix.shape and all(
        scalars_equal(g, p) for g, p in zip(gold.matrix, pred.matrix)
    )


def _mixed(gold: Value, pred: Value) -> bool:
    letters = {type(gold): gold, type(pred): pred}
    if Choice in letters and Num in letters:
        symbol = letters[Num].expr
        return isinstance(symbol, sympy.Symbol) and symbol.name.upper() == letters[Choice].letter
    if Choice in letters and Text in letters:
        return letters[Text].text.upper() == letters[Choice].letter
    if {type(gold), type(pred)} <= {Ival, SetUnion}:
        return _as_sets_equal(gold, pred)
    return False


_SAME_TYPE: dict[type, Callable[[Value, Value], bool]] = {
    Num: _numbers,
    Ival: _intervals,
    SetUnion: _unions,
    Mat: _matrices,
    Text: lambda g, p: g.text == p.text,
    Choice: lambda g, p: g.letter == p.letter,
}
