"""Equivalence classes of a problem's sampled final answers, by the checker's equivalence.

Majority voting must count "0.5", "1/2" and "\\frac{1}{2}" as one answer, so
string equality is not enough. The samples judged correct against the gold
answer already form one class (each equals the gold answer). The incorrect
answers are grouped among themselves: each answer joins the first class whose
representative (its first answer) the checker finds it equal to, else it opens
a new class. Integer literals are compared here, exactly; every other pair goes
to the checker (`Checker.same_answers`: the same machinery as a check against
gold, in killable worker processes), all pairs of a batch in one call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import combinations

_INTEGER_RE = re.compile(r"[-+]?\d+")

Pair = tuple[str, str]


def canonical(answer: str) -> str:
    """Whitespace does not change an answer; an integer literal is its value."""
    text = "".join(answer.split())
    return str(int(text)) if _INTEGER_RE.fullmatch(text) else text


def pairs_to_check(answers: Sequence[str | None], correct: Sequence[bool]) -> set[Pair]:
    """The pairs of distinct incorrect answers the checker must compare (integers excluded)."""
    distinct = _incorrect_distinct(answers, correct)
    return {(a, b) for a, b in combinations(distinct, 2) if not (_is_int(a) and _is_int(b))}


def answer_classes(answers: Sequence[str | None], correct: Sequence[bool],
                   same: Callable[[str, str], bool]) -> list[int | None]:
    """A class id per sample: 0 for the correct ones, 1.. for incorrect answers, None for no answer.

    `same(representative, answer)` is asked only for the pairs `pairs_to_check` returns.
    """
    reps: list[str] = []
    class_of: dict[str, int] = {}
    for answer in _incorrect_distinct(answers, correct):
        match = next((i for i, rep in enumerate(reps) if _equal(rep, answer, same)), None)
        if match is None:
            reps.append(answer)
            match = len(reps) - 1
        class_of[answer] = match + 1
    return [0 if ok else (class_of[canonical(a)] if a is not None else None)
            for a, ok in zip(answers, correct)]


def _incorrect_distinct(answers: Sequence[str | None], correct: Sequence[bool]) -> list[str]:
    seen = [canonical(a) for a, ok in zip(answers, correct) if a is not None and not ok]
    return list(dict.fromkeys(seen))


def _equal(rep: str, answer: str, same: Callable[[str, str], bool]) -> bool:
    if _is_int(rep) and _is_int(answer):
        return rep == answer  # both canonical integers
    return same(rep, answer)


def _is_int(text: str) -> bool:
    return _INTEGER_RE.fullmatch(text) is not None
