"""Preference pairs for the verifier: a correct and an incorrect rationale for the same prompt.

Labels come from the checker's stored verdicts. *Chosen* rationales are the
accepted ones (correct, and with `accept: answer_and_steps` also right in every
step); *rejected* ones are those whose answer is wrong or missing. A correct
but unaccepted rationale (right answer over wrong work) and a check that
timed out or crashed say nothing reliable either way and are left out.

Rationalized attempts are paired under their training prompt, the hint
removed, so they share a prompt with the problem's direct attempts, exactly as
the policy was trained on them.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from star.checker.verdict import CHECK_ERRORS


@dataclass(frozen=True)
class Candidate:
    """One stored rationale, as the pairing sees it."""

    problem_id: int
    prompt: str
    completion: str
    status: str
    correct: bool
    accepted: bool


@dataclass(frozen=True)
class Pair:
    problem_id: int
    prompt: str
    chosen: str
    rejected: str

    def row(self) -> dict[str, Any]:
        """TRL's preference format (prompt, chosen, rejected)."""
        return {"prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected}


def label(candidate: Candidate) -> bool | None:
    """True: may be chosen; False: may be rejected; None: unusable."""
    if candidate.accepted:
        return True
    if candidate.correct or candidate.status in CHECK_ERRORS:
        return None
    return False


def build_pairs(candidates: Iterable[Candidate], *, per_problem: int, seed: int) -> list[Pair]:
    """Every (chosen, rejected) combination per (problem, prompt), at most `per_problem` per problem.

    Identical rationales count once (the same wrong scratchpad sampled in two
    rounds is one example). When a problem has more combinations than the cap,
    a sample seeded by (seed, problem) is kept, so adding another problem to the
    store never changes which pairs an existing one gets.
    """
    if per_problem < 1:
        raise ValueError(f"per_problem must be at least 1, got {per_problem}")
    groups: dict[tuple[int, str], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for cand in candidates:
        verdict = label(cand)
        if verdict is not None:
            good, bad = groups[(cand.problem_id, cand.prompt)]
            (good if verdict else bad).add(cand.completion)
    by_problem: dict[int, list[Pair]] = defaultdict(list)
    for (problem_id, prompt), (good, bad) in sorted(groups.items()):
        # Sorted texts: the pairs do not depend on the order the store returns attempts in.
        combos = itertools.product(sorted(good), sorted(bad))
        by_problem[problem_id] += [Pair(problem_id, prompt, c, r) for c, r in combos]
    pairs: list[Pair] = []
    for problem_id, options in sorted(by_problem.items()):
        if len(options) > per_problem:
            rng = random.Random(f"{seed}|{problem_id}")
            options = [options[i] for i in sorted(rng.sample(range(len(options)), per_problem))]
        pairs += options
    return pairs


def split_pairs(pairs: Sequence[Pair], fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, held out): a seeded `fraction` of the problems, with all their pairs, is held out.

    Holding out whole problems measures what the verifier does on problems it
    never saw, as at evaluation time. Nothing is held out when that would leave
    no problem to train on.
    """
    problems = sorted({p.problem_id for p in pairs})
    n_held = int(len(problems) * fraction)
    if n_held == 0 or n_held >= len(problems):
        return list(pairs), []
    held = set(random.Random(f"{seed}|holdout").sample(problems, n_held))
    return [p for p in pairs if p.problem_id not in held], [p for p in pairs if p.problem_id in held]


def pair_accuracy(chosen_scores: Sequence[float], rejected_scores: Sequence[float]) -> float:
    """Share of pairs the scores rank right; a tie counts half (a constant scorer gets 0.5)."""
    if len(chosen_scores) != len(rejected_scores) or not chosen_scores:
        raise ValueError("pair_accuracy needs as many chosen as rejected scores, at least one")
    wins = sum(1.0 if c > r else 0.5 if c == r else 0.0 for c, r in zip(chosen_scores, rejected_scores))
    return wins / len(chosen_scores)
