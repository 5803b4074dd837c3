"""From judged held-out answers to the stored metrics, with a deterministic fake verifier."""

from __future__ import annotations

import pytest

from star.config import validate_config
from star.errors import ConfigError
from star.evaluation.heldout import HeldOutAnswer, heldout_metrics, heldout_requests, samples_this_round
from star.tasks.base import Problem


class DigitsTask:
    """Only what the metrics read from a task: the group of a problem, and that prompts are text
    (the verifier is given them as they are)."""

    use_chat_template = False

    def eval_group(self, problem: Problem) -> str:
        return f"digits={problem.metadata['digits']}"


PROBLEMS = {1: Problem("a", "1+1", "2", {"digits": 1}), 2: Problem("b", "10+10", "20", {"digits": 2})}


def answer(pid: int, index: int, extracted: str | None, correct: bool, text: str = "") -> HeldOutAnswer:
    return HeldOutAnswer(pid, index, f"Q{pid}", text or f"... {extracted}", extracted, correct)


class FakeScorer:
    """Scores a completion 0.9 when it says "sure", else 0.1; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[str]]] = []

    def score(self, prompts: list[str], completions: list[str]) -> list[float]:
        self.calls.append((prompts, completions))
        return [0.9 if "sure" in c else 0.1 for c in completions]


def test_greedy_maj_pass_and_verifier_metrics_overall_and_per_group() -> None:
    greedy = [answer(1, 0, "2", True), answer(2, 0, "21", False)]
    sampled = [
        # problem 1: "2" twice (right), "3" and "3.0" (one wrong class, by the checker) -> tie 2:2
        answer(1, 3, "3.0", False, "sure 3.0"), answer(1, 0, "2", True), answer(1, 1, "3", False),
        answer(1, 2, "2", True),
        # problem 2: wrong "19" three times, right once, which the verifier prefers
        answer(2, 0, "19", False), answer(2, 1, "19", False), answer(2, 2, "20", True, "sure 20"),
        answer(2, 3, "19", False),
    ]
    compared: list[list[tuple[str, str]]] = []

    def same(pairs: list[tuple[str, str]]) -> list[bool]:
        compared.append(pairs)
        return [{a, b} == {"3", "3.0"} for a, b in pairs]

    scorer = FakeScorer()
    metrics = heldout_metrics(DigitsTask(), PROBLEMS, greedy, sampled, k=4, same_answers=same, scorer=scorer)
    assert compared == [[("3", "3.0")]]  # one call for the whole split, integers never asked
    assert metrics["accuracy"] == 0.5 and metrics["accuracy/digits=1"] == 1.0
    assert metrics["maj@4/digits=1"] == 0.5 and metrics["maj@4/digits=2"] == 0.0
    assert metrics["pass@4"] == 1.0
    # problem 1: the verifier picks the wrong "3.0"; problem 2: the right "20"
    assert metrics["best_of_n@4/digits=1"] == 0.0 and metrics["best_of_n@4/digits=2"] == 1.0
    # problem 1: class {2} weighs 0.2 < class {3, 3.0} 1.0; problem 2: 0.9 (right) > 0.3
    assert metrics["weighted_best_of_n@4"] == 0.5
    # the scorer saw every sample in sample order, with its prompt
    (prompts, completions), = scorer.calls
    assert prompts == ["Q1"] * 4 + ["Q2"] * 4 and completions[0] == "... 2" and completions[3] == "sure 3.0"


def test_without_samples_only_greedy_accuracy() -> None:
    metrics = heldout_metrics(DigitsTask(), PROBLEMS, [answer(1, 0, "2", True)], [], k=8,
                              same_answers=lambda pairs: pytest.fail("no samples, no comparisons"))
    assert metrics == {"accuracy": 1.0, "accuracy/digits=1": 1.0}


def test_requests_sample_n_per_problem_in_one_seeded_request() -> None:
    from star.tasks import build_task

    config = validate_config({"task": {"name": "arithmetic", "min_digits": 1, "max_digits": 1,
                                       "train_per_digits": 2, "eval_per_digits": 2},
                              "evaluation": {"samples": 6, "k": 4, "temperature": 0.7}})
    task = build_task(config.task)
    problems = dict(enumerate(task.eval_problems()))
    requests = heldout_requests(task, problems, config, round_index=2)
    greedy = [r for r in requests if r.kind == "eval"]
    sampled = [r for r in requests if r.kind == "eval_sample"]
    assert len(greedy) == len(sampled) == len(problems)
    assert all(r.n == 1 and r.temperature == 0.0 for r in greedy)
    assert all(r.n == 6 and r.temperature == 0.7 for r in sampled)
    assert len({r.seed for r in sampled}) == len(problems)  # seeded per problem
    again = heldout_requests(task, problems, config, round_index=3)
    assert {r.seed for r in again if r.kind == "eval_sample"}.isdisjoint({r.seed for r in sampled})
    off = validate_config({"evaluation": {"samples": 0}})
    assert all(r.kind == "eval" for r in heldout_requests(task, problems, off, round_index=0))
    greedy_only = heldout_requests(task, problems, config, round_index=2, sampled=False)
    assert [r.kind for r in greedy_only] == ["eval"] * len(problems)


def test_sampled_every_takes_round_0_every_nth_and_the_last_round() -> None:
    def sampled_rounds(**evaluation: int) -> list[int]:
        config = validate_config({"rounds": 7, "evaluation": evaluation})
        return [r for r in range(8) if samples_this_round(config, r)]

    assert sampled_rounds() == list(range(8))  # the default: every round
    assert sampled_rounds(sampled_every=3) == [0, 3, 6, 7]
    assert sampled_rounds(sampled_every=100) == [0, 7]
    assert sampled_rounds(samples=0, sampled_every=1) == []  # greedy only, whatever the frequency
    with pytest.raises(ConfigError, match="sampled_every"):
        validate_config({"evaluation": {"sampled_every": 0}})


@pytest.mark.parametrize(("evaluation", "message"), [
    ({"samples": 4, "k": 8}, "must not exceed evaluation.samples"),
    ({"samples": 0, "verifier": "/v"}, "needs evaluation.samples > 0"),
    ({"temperature": 0.0}, "evaluation.temperature"),
])
def test_bad_evaluation_settings_are_config_errors(evaluation: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config({"evaluation": evaluation})
