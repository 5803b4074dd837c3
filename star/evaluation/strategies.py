"""Test-time strategies over n sampled answers per problem, as pure functions.

Every function scores ONE problem from its samples and returns a value in
[0, 1]; a metric is the mean over problems (`mean_by_group` adds the per-group
means). A sample is an `answer_class` (its final answer's equivalence class
within the problem, by the checker's equivalence; None when it states no
answer) and whether it is `correct` against the gold answer. The samples that
are correct form one class by construction (all equal the gold answer), so a
class is correct exactly when its samples are.

Ties: when several classes (or samples) share the top vote (or score), the
problem scores the expected value of a uniform random tie-break, i.e. the
share of the tied candidates that are correct. That is deterministic,
order-free and unbiased, unlike "first seen wins".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from star.evaluation.metric_names import BEST_OF_N, MAJORITY, PASS, WEIGHTED_BEST_OF_N, at_k, metric_name


class Scorer(Protocol):
    """A verifier: higher = more likely correct; scores must be >= 0 (e.g. a probability)."""

    def score(self, prompts: list[str | list[dict[str, str]]], completions: list[str]) -> list[float]:
        """Prompts are text, or chat messages when the task uses the model's chat template."""
        ...


@dataclass(frozen=True)
class Sample:
    """One sampled answer to a problem."""

    answer_class: int | None
    correct: bool


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of Chen et al. 2021: 1 - C(n-c, k) / C(n, k), as a stable product.

    C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i); no huge binomials.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    fail = 1.0
    for i in range(n - c + 1, n + 1):
        fail *= 1.0 - k / i
    return 1.0 - fail


def majority_vote(samples: Sequence[Sample]) -> float:
    """1 if the plurality answer class is correct, 0 if not, the correct share of a tie.

    Samples with no answer do not vote; no votes at all scores 0.
    """
    votes: dict[int, int] = {}
    correct_classes: set[int] = set()
    for sample in samples:
        if sample.answer_class is None:
            continue
        votes[sample.answer_class] = votes.get(sample.answer_class, 0) + 1
        if sample.correct:
            correct_classes.add(sample.answer_class)
    return _share_of_top(votes, correct_classes)


#: the most samples maj@k with k < n takes (evaluation.samples stops at 256)
MAJ_MAX_SAMPLES = 1000


def maj_at_k(samples: Sequence[Sample], k: int) -> float:
    """Expected majority vote of k samples drawn without replacement from the n (exact).

    Like pass@k's estimator, this uses all n samples rather than the first k, so
    maj@k with k < n has less variance and does not depend on sample order; with
    k = n it is the plain vote. Computed from the answer classes' sizes, not by
    enumerating the C(n, k) subsets.
    """
    n = len(samples)
    if not 1 <= k <= n:
        raise ValueError(f"maj@k needs 1 <= k <= n samples, got k={k} with {n} samples")
    if k == n:
        return majority_vote(samples)
    if n > MAJ_MAX_SAMPLES:
        raise ValueError(f"maj@k with k < n is computed for at most {MAJ_MAX_SAMPLES} samples per problem "
                         f"(subset counts past C({MAJ_MAX_SAMPLES}, k) overflow a float), got {n}")
    sizes = Counter(s.answer_class for s in samples if s.answer_class is not None)
    unanswered = n - sum(sizes.values())
    correct = {s.answer_class for s in samples if s.correct and s.answer_class is not None}
    wins = sum(_weighted_wins(sizes[cls], [m for other, m in sizes.items() if other != cls], unanswered, k)
               for cls in correct)
    return wins / math.comb(n, k)


def _weighted_wins(own: int, others: list[int], unanswered: int, k: int) -> float:
    """Over the k-subsets of all samples, the number in which a class of `own` samples has the
    top vote, each divided by the number of classes tied with it (the tie-break's expectation).

    For each vote count x of the class, a table counts the ways to give the other classes
    their votes: [votes given to them, classes among them tied at x], none above x. The
    remaining picks are unanswered samples, which do not vote.
    """
    import numpy as np

    total = 0.0
    for x in range(1, min(own, k) + 1):
        rest = k - x
        if x > min(rest, max(others, default=0)):  # no other class can reach x votes: every pick of the rest wins
            total += math.comb(own, x) * math.comb(sum(others) + unanswered, rest)
            continue
        ways = np.zeros((rest + 1, rest // x + 1))
        ways[0, 0] = 1.0
        for size in others:
            grown = np.zeros_like(ways)
            for votes in range(min(size, x, rest) + 1):
                picks = math.comb(size, votes)
                if votes < x:
                    grown[votes:, :] += picks * ways[: rest + 1 - votes, :]
                else:  # tied with the class
                    grown[votes:, 1:] += picks * ways[: rest + 1 - votes, :-1]
            ways = grown
        silent = np.array([math.comb(unanswered, rest - given) for given in range(rest + 1)], dtype=float)
        tie_share = 1.0 / np.arange(1, ways.shape[1] + 1)
        total += math.comb(own, x) * float(silent @ ways @ tie_share)
    return total


def pass_at_k_of(samples: Sequence[Sample], k: int) -> float:
    return pass_at_k(len(samples), sum(s.correct for s in samples), k)


def best_of_n(samples: Sequence[Sample], scores: Sequence[float]) -> float:
    """The verifier picks the highest-scored sample (any sample, answered or not)."""
    _check_scores(samples, scores)
    if not samples:
        return 0.0
    top = max(scores)
    tied = [s for s, score in zip(samples, scores) if score == top]
    return sum(s.correct for s in tied) / len(tied)


def weighted_best_of_n(samples: Sequence[Sample], scores: Sequence[float]) -> float:
    """Votes weighted by verifier score: the class with the largest score sum wins."""
    _check_scores(samples, scores)
    weights: dict[int, float] = {}
    correct_classes: set[int] = set()
    for sample, score in zip(samples, scores):
        if sample.answer_class is None:
            continue
        weights[sample.answer_class] = weights.get(sample.answer_class, 0.0) + score
        if sample.correct:
            correct_classes.add(sample.answer_class)
    return _share_of_top(weights, correct_classes)


def mean_by_group(name: str, values: Iterable[tuple[str, float]]) -> dict[str, float]:
    """`name` (mean over all problems) and `name/<group>` (mean per group), from (group, value)."""
    totals: dict[str, list[float]] = {}
    for group, value in values:
        for key in (name, metric_name(name, group)):
            bucket = totals.setdefault(key, [0.0, 0])
            bucket[0] += value
            bucket[1] += 1
    metrics = {key: total / count for key, (total, count) in sorted(totals.items())}
    metrics.pop(metric_name(name, "all"), None)  # tasks without groups call every problem "all"
    return metrics


def _share_of_top(tally: dict[int, float], correct_classes: set[int]) -> float:
    if not tally:
        return 0.0
    top = max(tally.values())
    tied = [cls for cls, value in tally.items() if value == top]
    return sum(cls in correct_classes for cls in tied) / len(tied)


def _check_scores(samples: Sequence[Sample], scores: Sequence[float]) -> None:
    if len(scores) != len(samples):
        raise ValueError(f"{len(scores)} verifier scores for {len(samples)} samples; the scorer must "
                         "return one score per completion")
    if any(score < 0 for score in scores):
        raise ValueError("verifier scores must be >= 0 (weighted best-of-n sums them per answer); "
                         "return a probability, e.g. the sigmoid of a reward")


def sample_metrics(samples: dict[int, list[Sample]], groups: dict[int, str], k: int,
                   scores: dict[int, list[float]] | None = None) -> dict[str, float]:
    """maj@k and pass@k (and, given verifier scores, best_of_n@N and weighted_best_of_n@N),
    overall and per group, from each problem's samples in sample-index order."""
    metrics: dict[str, float] = {}
    metrics |= mean_by_group(at_k(MAJORITY, k), ((groups[pid], maj_at_k(s, k)) for pid, s in samples.items()))
    metrics |= mean_by_group(at_k(PASS, k), ((groups[pid], pass_at_k_of(s, k)) for pid, s in samples.items()))
    if scores is not None and samples:
        n = max(len(s) for s in samples.values())
        metrics |= mean_by_group(at_k(BEST_OF_N, n), (
            (groups[pid], best_of_n(s, scores[pid])) for pid, s in samples.items()))
        metrics |= mean_by_group(at_k(WEIGHTED_BEST_OF_N, n), (
            (groups[pid], weighted_best_of_n(s, scores[pid])) for pid, s in samples.items()))
    return metrics
