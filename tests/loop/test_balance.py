"""The balance choice of a round's sampling temperature (star/loop/balance.py, after B-STaR)."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray

from star.engines.requests import Completion, GenRequest
from star.loop import rounds
from star.loop.balance import ProbeOutcome, balance_score, choose_temperature, probe_problems, round_temperature
from workers.checker_pool import CheckerActor


def test_balance_rewards_accuracy_and_distinct_right_paths() -> None:
    always_one_path = [ProbeOutcome(right=4, sampled=4, paths=1)] * 2
    diverse = [ProbeOutcome(right=3, sampled=4, paths=2), ProbeOutcome(right=4, sampled=4, paths=3)]
    lucky = [ProbeOutcome(right=1, sampled=4, paths=1), ProbeOutcome(right=0, sampled=4, paths=0)]
    assert balance_score(always_one_path, target_paths=2) == 0.5
    assert balance_score(diverse, target_paths=2) == (0.75 + 1.0) / 2
    assert balance_score(lucky, target_paths=2) == 0.5 * 0.25 / 2
    assert balance_score(always_one_path, target_paths=1) == 1.0
    assert balance_score([], target_paths=2) == 0.0


def test_the_best_score_wins_and_a_tie_goes_to_the_lower_temperature() -> None:
    assert choose_temperature({0.4: 0.2, 0.8: 0.5, 1.2: 0.3}) == 0.8
    assert choose_temperature({1.2: 0.5, 0.6: 0.5, 1.0: 0.1}) == 0.6


def test_the_probe_subset_is_fixed_by_seed_and_round() -> None:
    pool = range(1000, 1100)
    first = probe_problems(pool, 10, seed=0, round_index=1)
    assert first == probe_problems(reversed(pool), 10, seed=0, round_index=1) and len(set(first)) == 10
    assert first != probe_problems(pool, 10, seed=1, round_index=1)
    assert first != probe_problems(pool, 10, seed=0, round_index=2)
    assert probe_problems(range(3), 10, seed=0, round_index=1) == [0, 1, 2]


@ray.remote(num_cpus=0)
class TemperatureGenerator:
    """Writes by temperature: at 0.4 one right text, at 0.8 two right texts in turn, at 1.2 right only once
    per problem; remembers the (kind, temperature) of every request."""

    def __init__(self, golds: dict[int, str]) -> None:
        self.golds = golds
        self.seen: list[tuple[str, float, int]] = []

    def ready(self) -> bool:
        return True

    def generate(self, requests: list[GenRequest], model: str) -> list[Completion]:
        self.seen += [(r.kind, r.temperature, r.problem_id) for r in requests]
        return [Completion(r.problem_id, r.kind, i, r.prompt, self._text(r, i), 1, 1, True)
                for r in requests for i in range(r.n)]

    def _text(self, request: GenRequest, sample: int) -> str:
        gold = self.golds[request.problem_id]
        if request.temperature <= 0.5:
            return f"\\boxed{{{gold}}}"
        if request.temperature <= 1.0:
            return f"path {'ab'[sample % 2]}: \\boxed{{{gold}}}"
        return f"\\boxed{{{gold if sample == 0 else 'nothing'}}}"

    def requests_seen(self) -> list[tuple[str, float, int]]:
        return self.seen


BALANCE = {"samples_per_problem": 2, "batch_problems": 3, "temperature_choice": "balance",
           "balance_temperatures": [0.4, 0.8, 1.2], "balance_problems": 4, "balance_paths": 2}


def _balanced_round(tmp_path: Path, latex_config, make_context, seed: int) -> tuple[float, list, object]:
    tmp_path.mkdir()
    config = latex_config(tmp_path, [str(i) for i in range(8)], sampling=BALANCE, seed=seed)
    ctx = make_context(config, generators=[], checker=None)
    generator = TemperatureGenerator.remote({pid: p.gold for pid, p in ctx.train.items()})
    ctx.workers.generators = [generator]
    ctx.workers.checker = CheckerActor.options(num_cpus=0).remote(1, 5.0, ctx.task, "answer")
    rounds.generate_direct(ctx, 1, "m0")
    seen = ray.get(generator.requests_seen.remote())
    assert round_temperature(ctx, 1, "m0") == 0.8  # a resumed round reads its choice back: no second probe
    assert ray.get(generator.requests_seen.remote()) == seen
    return ctx.store.extra_counts(1)["sampling_temperature"], seen, ctx


@pytest.mark.slow  # real Ray actors (a scripted generator, the real checker)
def test_a_round_samples_at_the_temperature_its_probe_chose_and_the_choice_repeats(
        tmp_path, ray_session, latex_config, make_context) -> None:
    chosen, seen, ctx = _balanced_round(tmp_path / "a", latex_config, make_context, seed=3)
    assert chosen == 0.8 and ctx.store.extra_counts(1)["balance_score"] == 1.0
    probed = [(t, pid) for kind, t, pid in seen if kind == "probe"]
    assert sorted({t for t, _ in probed}) == [0.4, 0.8, 1.2] and len({pid for _, pid in probed}) == 4
    assert {t for kind, t, _ in seen if kind == "direct"} == {0.8}
    assert {pid for kind, _, pid in seen if kind == "direct"} == set(ctx.train)
    again, seen_again, _ = _balanced_round(tmp_path / "b", latex_config, make_context, seed=3)
    assert again == chosen and sorted(seen_again) == sorted(seen)  # the same seed probes the same problems
