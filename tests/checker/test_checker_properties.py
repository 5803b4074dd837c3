"""Property tests: a value equals itself in every surface form, not its neighbour."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from star.checker.core import judge

SETTINGS = settings(max_examples=60, deadline=None)


def _decimal(value: Fraction) -> str | None:
    """The terminating decimal for `value`, if it has one."""
    for places in range(0, 8):
        scaled = value * 10**places
        if scaled.denominator == 1:
            sign = "-" if value < 0 else ""
            digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
            return sign + (digits[:-places] + "." + digits[-places:] if places else digits)
    return None


def surface_forms(value: Fraction) -> list[str]:
    """Ways a model may write `value`, in and around an answer marker."""
    p, q = value.numerator, value.denominator
    sign, ap = ("-" if p < 0 else ""), abs(p)
    forms = [f"{p}/{q}", f"\\frac{{{p}}}{{{q}}}", f"{sign}\\dfrac{{{ap}}}{{{q}}}", f"\\frac{{{3 * p}}}{{{3 * q}}}"]
    if q == 1:
        forms += [str(p), f"{p:,}", f"{p}.00", f"$ {p} $"]
    if q > 1 and ap > q:
        forms.append(f"{sign}{ap // q}\\frac{{{ap % q}}}{{{q}}}")
    decimal = _decimal(value)
    if decimal is not None:
        forms.append(decimal)
    wrappers = ["\\boxed{{{}}}", "The answer is ${}$.", "Answer: {}", "so we get \\boxed{{{}}} in the end"]
    return [w.format(f) for f in forms for w in wrappers[:1]] + [wrappers[i % 4].format(f) for i, f in enumerate(forms)]


fractions = st.builds(
    Fraction,
    st.integers(min_value=-10**12, max_value=10**12),
    st.sampled_from([1, 1, 2, 3, 4, 7, 8, 25, 1000, 99991]),
)


@SETTINGS
@given(value=fractions, data=st.data())
def test_same_value_any_form(value: Fraction, data: st.DataObject) -> None:
    forms = surface_forms(value)
    prediction = data.draw(st.sampled_from(forms))
    gold = data.draw(st.sampled_from([f"{value.numerator}/{value.denominator}", *forms[:4]]))
    assert judge(prediction, gold).correct, (prediction, gold)


@SETTINGS
@given(value=fractions, delta=st.sampled_from([Fraction(1), Fraction(-1), Fraction(1, 10**9), Fraction(1, 2**70)]), data=st.data())
def test_perturbed_value_never_equal(value: Fraction, delta: Fraction, data: st.DataObject) -> None:
    prediction = data.draw(st.sampled_from(surface_forms(value + delta)))
    gold = f"\\frac{{{value.numerator}}}{{{value.denominator}}}"
    verdict = judge(prediction, gold)
    assert verdict.status == "incorrect", (prediction, gold, verdict)


small = st.integers(min_value=-50, max_value=50)


@SETTINGS
@given(items=st.lists(small, min_size=2, max_size=6, unique=True), data=st.data())
def test_sets_ignore_order_tuples_do_not(items: list[int], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(items))
    as_set = lambda xs: "\\{" + ", ".join(map(str, xs)) + "\\}"  # noqa: E731
    as_tuple = lambda xs: "(" + ", ".join(map(str, xs)) + ")"  # noqa: E731
    assert judge(f"\\boxed{{{as_set(shuffled)}}}", as_set(items)).correct
    assert judge(f"\\boxed{{{as_tuple(shuffled)}}}", as_tuple(items)).correct is (list(shuffled) == items)
    assert not judge(f"\\boxed{{{as_set(items[:-1])}}}", as_set(items)).correct


@SETTINGS
@given(lo=small, width=st.integers(min_value=1, max_value=20), closed=st.tuples(st.booleans(), st.booleans()),
       other=st.tuples(st.booleans(), st.booleans()))
def test_interval_closure_matters(lo: int, width: int, closed: tuple[bool, bool], other: tuple[bool, bool]) -> None:
    def interval(flags: tuple[bool, bool]) -> str:
        return ("[" if flags[0] else "(") + f"{lo}, {lo + width}" + ("]" if flags[1] else ")")

    assert judge(f"\\boxed{{{interval(other)}}}", interval(closed)).correct is (other == closed)


latexish = st.lists(
    st.sampled_from(list("0123456789+-*/^()[]{}=<>,.$%! xyzABC") + [
        "\\frac", "\\sqrt", "\\pi", "\\boxed{", "}", "\\left(", "\\right)", "\\cup", "\\pm", "\\in",
        "\\le", "\\infty", "\\text{", "\\begin{pmatrix}", "\\end{pmatrix}", "&", "\\\\", "\\sin", "i",
        "#### ", "The answer is ", "Answer: ", "**", "\\{", "\\}", "0.5", "1,000", "\\%", "^\\circ"]),
    max_size=30,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(prediction=st.one_of(latexish, st.text(max_size=40)), gold=st.one_of(latexish, st.text(max_size=15)))
def test_never_raises_on_arbitrary_text(prediction: str, gold: str) -> None:
    verdict = judge(prediction, gold)
    assert verdict.status in ("correct", "incorrect", "no_answer", "unparseable")
    assert verdict.correct is (verdict.status == "correct")
