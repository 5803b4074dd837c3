"""The work rule in a real round (tiny model, vLLM-CPU, Ray, TRL, SQLite): a bare-hint rationale planted
among the engine's own hinted answers is refused, says why in the store, and is not trained on.

Slow (about a minute): builds on the session's tiny model and Ray instance.
"""

from __future__ import annotations

import dataclasses

import pytest
import ray
from sqlalchemy import func, select

from db.models import Attempt, Round
from star.config import validate_config
from star.engines.requests import Completion, GenRequest
from star.loop.rounds import run_rounds
from star.progress import Progress
from star.run.workers import stop_workers

pytestmark = pytest.mark.slow


@ray.remote(num_cpus=0)
class PlantingGenerator:
    """Serves every request through the real generator, then replaces sample 0 of the first hinted request
    it sees with the bare hint, `Answer: <gold>`: what SmolLM2 learned to write from leaked hints."""

    def __init__(self, real, golds: dict[int, str]) -> None:
        self.real = real
        self.golds = golds
        self.planted: int | None = None

    def ready(self) -> bool:
        return ray.get(self.real.ready.remote())

    def generate(self, requests: list[GenRequest], model: str) -> list[Completion]:
        completions = ray.get(self.real.generate.remote(requests, model))
        return [self._plant(c) for c in completions]

    def _plant(self, completion: Completion) -> Completion:
        if completion.kind != "rationalized" or completion.sample_index != 0:
            return completion
        if self.planted is None:
            self.planted = completion.problem_id
        if completion.problem_id != self.planted:
            return completion
        return dataclasses.replace(completion, text=f"Answer: {self.golds[completion.problem_id]}\n")

    def planted_problem(self) -> int | None:
        return self.planted


def test_a_planted_bare_hint_is_refused_stored_with_its_reason_and_not_trained_on(
        tmp_path, tiny_model, ray_session, start_real_run, tiny_round_config) -> None:
    config = validate_config(tiny_round_config(tmp_path, tiny_model, run_name="planted", eval_per_digits=4,
                                               database=f"sqlite:///{tmp_path}/star.db"))
    assert config.require_work == "rationalized"  # the default
    ctx = start_real_run(config, Progress(enabled=False))
    real = ctx.workers.generators[0]
    planter = PlantingGenerator.remote(real, {pid: p.gold for pid, p in ctx.train.items()})
    try:
        ctx.workers.generators = [planter]
        run_rounds(ctx)
        planted = ray.get(planter.planted_problem.remote())
    finally:
        ctx.workers.generators = [real]
        stop_workers(ctx.workers)
        ray.kill(planter)
    assert planted is not None, "the tiny model should fail some problem directly, so one is rationalized"

    with ctx.sessions() as session:
        rnd = session.scalars(select(Round).where(Round.index == 1)).one()
        hinted = list(session.scalars(select(Attempt).where(Attempt.round_id == rnd.id,
                                                            Attempt.kind == "rationalized")))
        bare = next(a for a in hinted if a.problem_id == planted and a.sample_index == 0)
        assert bare.completion.startswith("Answer: ")
        assert (bare.correct, bare.accepted, bare.refusal) == (True, False, "no_work")
        assert bare.path_key is not None
        # the engine's own hinted rationales are judged by the same rule: accepted ones do the scratchpad
        accepted = [a for a in hinted if a.accepted]
        assert accepted and all(a.refusal is None and "\n" in a.completion.strip() for a in accepted)
        assert all(a.refusal is None for a in hinted if not a.correct)
        assert rnd.extra_counts["refused_no_work"] >= 1
        assert rnd.extra_counts["pool_problems"] == len(ctx.train)
        # the waste ledger: the round keeps what its stored samples generated, by kind
        direct_tokens = session.scalar(select(func.sum(Attempt.completion_tokens))
                                       .where(Attempt.round_id == rnd.id, Attempt.kind == "direct"))
        assert rnd.extra_counts["tokens_direct"] == direct_tokens > 0
        assert rnd.extra_counts["tokens_rationalized"] == sum(a.completion_tokens for a in hinted) > 0
        assert rnd.extra_counts["tokens_eval_greedy"] > 0
    training_set = ctx.store.accepted_triplets(1)
    assert all(t.completion != bare.completion for t in training_set)
