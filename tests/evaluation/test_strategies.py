"""maj@k, pass@k, best-of-n and weighted best-of-n on hand-computed cases."""

from __future__ import annotations

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


def test_maj_at_k_votes_over_the_first_k_samples() -> None:
    five = samples([1, 1, 0, 0, 0])
    assert maj_at_k(five, 2) == 0.0
    assert maj_at_k(five, 5) == 1.0
    with pytest.raises(ValueError, match="maj@k needs"):
        maj_at_k(five, 6)


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
    assert metrics["maj@2"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)  # first two: [0,0], [1,1], [0,1] (tie)
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
