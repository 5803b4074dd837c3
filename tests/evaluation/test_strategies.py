"""maj@k, pass@k, best-of-n and weighted best-of-n on hand-computed cases."""

from __future__ import annotations

import itertools
import random
from math import comb

import pytest

from star.evaluation.strategies import (
    Sample,
    best_of_n,
    maj_at_k,
    majority_vote,
    mean_by_group,
    pass_at_k,
    sample_metrics,
    weighted_best_of_n,
)


def samples(classes: list[int | None], correct_class: int | None = 0) -> list[Sample]:
    return [Sample(c, c is not None and c == correct_class) for c in classes]


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (8, 0, 8, 0.0),        # nothing correct
    (8, 1, 8, 1.0),        # n == k: any correct sample is in the one subset
    (5, 2, 2, 0.7),        # 1 - C(3,2)/C(5,2) = 1 - 3/10
    (4, 1, 1, 0.25),       # pass@1 is the share of correct samples
    (10, 3, 5, 1 - 21 / 252),
    (10, 6, 5, 1.0),       # n - c < k
])
def test_pass_at_k_hand_computed(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_product_form_matches_binomials_and_survives_large_n() -> None:
    for n in range(1, 16):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))
    # C(1000, 500) overflows a float; the product form does not.
    assert 0.0 < pass_at_k(1000, 1, 500) == pytest.approx(0.5)


@pytest.mark.parametrize(("n", "c", "k"), [(4, 1, 5), (4, 5, 2), (4, 1, 0)])
def test_pass_at_k_rejects_impossible_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match="pass@k needs"):
        pass_at_k(n, c, k)


def test_majority_vote_counts_classes_not_samples_order() -> None:
    assert majority_vote(samples([0, 1, 1, None])) == 0.0   # a wrong answer wins 2:1
    assert majority_vote(samples([1, 0, 2, 0])) == 1.0      # the right one wins 2:1:1
    assert majority_vote(samples([None, None])) == 0.0      # no votes at all


def test_majority_vote_tie_scores_the_correct_share_of_the_tied_classes() -> None:
    assert majority_vote(samples([0, 1])) == 0.5
    assert majority_vote(samples([2, 0, 1])) == pytest.approx(1 / 3)
    assert majority_vote(samples([1, 2, 1, 2, 0])) == 0.0   # the correct class is not among the tied


def test_maj_at_k_is_the_expected_vote_of_k_of_the_n_samples() -> None:
    five = samples([1, 1, 0, 0, 0])
    # of the 10 pairs: 3 both right (1), 1 both wrong (0), 6 split (a tie, 0.5)
    assert maj_at_k(five, 2) == pytest.approx(0.6)
    assert maj_at_k(samples([0, 0, 0, 1, 1]), 2) == pytest.approx(0.6)  # the order of the samples does not matter
    assert maj_at_k(five, 5) == 1.0
    assert maj_at_k(samples([0, None, None]), 1) == pytest.approx(1 / 3)  # an unanswered pick scores 0
    with pytest.raises(ValueError, match="maj@k needs"):
        maj_at_k(five, 6)


def _brute_maj_at_k(drawn: list[Sample], k: int) -> float:
    subsets = list(itertools.combinations(drawn, k))
    return sum(majority_vote(list(subset)) for subset in subsets) / len(subsets)


def test_maj_at_k_matches_enumerating_every_subset() -> None:
    rng = random.Random(0)
    for _ in range(500):
        n = rng.randint(1, 10)
        classes = [rng.choice([None, 0, 1, 2, 3]) for _ in range(n)]
        drawn = samples(classes, correct_class=rng.choice([0, None]))
        k = rng.randint(1, n)
        assert maj_at_k(drawn, k) == pytest.approx(_brute_maj_at_k(drawn, k), abs=1e-12), (classes, k)


def test_maj_at_k_of_many_samples_is_exact_without_enumerating() -> None:
    # C(256, 128) subsets could never be enumerated. 100 right samples against 156 distinct wrong answers:
    # k = 1 is the share of right samples; k = 128 loses only when at most one right sample is drawn.
    lopsided = samples([0] * 100 + list(range(1, 157)))
    assert maj_at_k(lopsided, 1) == pytest.approx(100 / 256)
    assert maj_at_k(lopsided, 128) == pytest.approx(1 - comb(156, 128) / comb(256, 128))
    # 40 right against 8 wrong classes of 27: against a seeded estimate from 20,000 random draws of 16
    balanced = samples([0] * 40 + [c for c in range(1, 9) for _ in range(27)])
    rng = random.Random(0)
    estimate = sum(majority_vote(rng.sample(balanced, 16)) for _ in range(20_000)) / 20_000
    assert maj_at_k(balanced, 16) == pytest.approx(estimate, abs=0.015)
    with pytest.raises(ValueError, match="for at most 1000 samples per problem"):
        maj_at_k(samples([0] * 1001), 2)


def test_best_of_n_follows_the_highest_score_and_splits_ties() -> None:
    three = samples([1, 0, 2])
    assert best_of_n(three, [0.1, 0.9, 0.3]) == 1.0
    assert best_of_n(three, [0.9, 0.2, 0.3]) == 0.0
    assert best_of_n(three, [0.5, 0.5, 0.1]) == 0.5
    # the verifier may pick a sample without an answer, which is wrong
    assert best_of_n(samples([None, 0]), [0.8, 0.2]) == 0.0


def test_weighted_best_of_n_sums_scores_per_class() -> None:
    # majority says class 1 (two votes); the verifier's weights say class 0 (0.9 > 0.3 + 0.3)
    three = samples([0, 1, 1])
    assert majority_vote(three) == 0.0
    assert weighted_best_of_n(three, [0.9, 0.3, 0.3]) == 1.0
    assert weighted_best_of_n(three, [0.5, 0.3, 0.3]) == 0.0
    assert weighted_best_of_n(three, [0.6, 0.3, 0.3]) == 0.5          # 0.6 == 0.3 + 0.3: tie
    assert weighted_best_of_n(samples([None, 1, 0]), [5.0, 0.2, 0.1]) == 0.0  # no answer, no vote


def test_verifier_strategies_reject_bad_scores() -> None:
    with pytest.raises(ValueError, match="one score per completion"):
        best_of_n(samples([0, 1]), [0.1])
    with pytest.raises(ValueError, match=">= 0"):
        weighted_best_of_n(samples([0, 1]), [0.1, -2.0])


def test_mean_by_group_reports_overall_and_per_group_without_the_all_group() -> None:
    assert mean_by_group("m", [("digits=1", 1.0), ("digits=1", 0.0), ("digits=2", 1.0)]) == {
        "m": pytest.approx(2 / 3), "m/digits=1": 0.5, "m/digits=2": 1.0}
    assert mean_by_group("m", [("all", 1.0), ("all", 0.0)]) == {"m": 0.5}


def test_sample_metrics_per_group_with_and_without_scores() -> None:
    per_problem = {
        1: samples([0, 0, 1, 1]),          # tie -> 0.5; c=2 of n=4
        2: samples([1, 1, 1, 2], None),    # nothing correct
        3: samples([0, 1, 0, 0]),          # majority right; c=3
    }
    groups = {1: "digits=1", 2: "digits=2", 3: "digits=2"}
    metrics = sample_metrics(per_problem, groups, k=2)
    # of the 6 pairs: problem 1 has 1 right, 1 wrong and 4 tied (0.5); problem 3 has 3 right and 3 tied
    assert metrics["maj@2"] == pytest.approx((3 / 6 + 0.0 + 4.5 / 6) / 3)
    assert metrics["maj@2/digits=2"] == pytest.approx((0.0 + 4.5 / 6) / 2)
    assert metrics["pass@2"] == pytest.approx((1 - comb(2, 2) / comb(4, 2) + 0 + 1.0) / 3)
    assert set(metrics) == {"maj@2", "maj@2/digits=1", "maj@2/digits=2", "pass@2", "pass@2/digits=1",
                            "pass@2/digits=2"}
    scores = {1: [0.9, 0.1, 0.2, 0.2], 2: [0.5] * 4, 3: [0.2, 0.9, 0.2, 0.2]}
    scored = sample_metrics(per_problem, groups, k=4, scores=scores)
    assert scored["maj@4"] == pytest.approx((0.5 + 0.0 + 1.0) / 3)
    # problem 1: the top sample is right, class 0 weighs 1.0 against 0.4; problem 3: the top
    # sample is wrong and class 1 weighs 0.9 against 0.6; problem 2 has nothing right
    assert scored["best_of_n@4"] == pytest.approx(1 / 3)
    assert scored["weighted_best_of_n@4"] == pytest.approx(1 / 3)
    assert scored["best_of_n@4/digits=1"] == 1.0 and scored["weighted_best_of_n@4/digits=2"] == 0.0
