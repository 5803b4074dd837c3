"""colocate: the engines sleep while the round trains on their GPU, and wake after it, also when it fails.

The orchestrator's sequencing, with fake generator and trainer actors on real Ray (the test is
about the order of calls, not about vLLM): the fake trainer asks every engine for its state
while it trains. The engine's own sleep mode is tested in test_engine_sleep.py (refused on CPU) and
test_weight_swap.py (on a GPU).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import ray

from star.engines.requests import Completion, GenRequest
from star.engines.sleep import EnginesAwake
from star.loop import rounds
from star.loop.acceptance import CheckItem, ScoredItem
from star.loop.train import TrainingFailed, train_round
from star.training.spec import TrainResult, TrainSpec

pytestmark = pytest.mark.slow  # real Ray actors (fakes for the workers)

COLOCATED = {"colocate": True, "generators": {"gpus_per_generator": 1}, "trainer": {"gpus": 1}}
RESTARTABLE = {"num_cpus": 0, "max_restarts": -1, "max_task_retries": 0}


@ray.remote
class Journal:
    """What happened, in order, across actors and their restarts."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def add(self, *event) -> None:
        self.events.append(event)

    def read(self) -> list[tuple]:
        return self.events


@ray.remote
class SleepyGenerator:
    """Answers "1" to everything; sleeps and wakes as the real generator actor does, noting each call.

    `dies_on_first_sleep`: the process exits on its first sleep (a file marks it, so the restarted
    actor sleeps normally); `cannot_sleep`: sleep raises, as an engine error would.
    """

    def __init__(self, name: str, journal, marker: str = "", cannot_sleep: bool = False) -> None:
        self.name, self.journal, self.marker, self.cannot_sleep = name, journal, marker, cannot_sleep
        self.asleep = False
        ray.get(journal.add.remote(name, "started"))

    def ready(self) -> bool:
        return True

    def state(self) -> str:
        return "asleep" if self.asleep else "awake"

    def sleep(self, level: int = 1) -> None:
        if self.marker and not Path(self.marker).exists():
            Path(self.marker).touch()
            os._exit(1)
        if self.cannot_sleep:
            raise RuntimeError("CUDA error: out of memory while offloading")
        ray.get(self.journal.add.remote(self.name, "sleep", level))
        self.asleep = True

    def wake_up(self) -> None:
        ray.get(self.journal.add.remote(self.name, "wake_up"))
        self.asleep = False

    def generate(self, requests: list[GenRequest], model: str) -> list[Completion]:
        return [Completion(r.problem_id, r.kind, i, r.prompt, "1", 1, 1, True) for r in requests for i in range(r.n)]


@ray.remote
class WatchingTrainer:
    """Notes the engines' states while it trains; then succeeds, raises, or dies (`outcome`)."""

    def __init__(self, journal, generators: list, outcome: str = "ok") -> None:
        self.journal, self.generators, self.outcome = journal, generators, outcome

    def ready(self) -> bool:
        return True

    def train(self, spec: TrainSpec) -> TrainResult:
        states = ray.get([g.state.remote() for g in self.generators])
        ray.get(self.journal.add.remote("trainer", "train", tuple(states)))
        if self.outcome == "error":
            raise ValueError("bad training data")
        if self.outcome == "dies":
            os._exit(1)
        return TrainResult(output_dir=spec.output_dir, steps=3, examples=len(spec.examples), final_loss=0.5)


@ray.remote
class AcceptingChecker:
    def score(self, items: list[CheckItem]) -> list[ScoredItem]:
        return [ScoredItem(i.completion, i.problem, "correct", True, "1", None, True) for i in items]


def _round(tmp_path: Path, latex_config, make_context, *, outcome: str = "ok", colocate: bool = True,
           sleepers: tuple[dict, ...] = ({}, {})):
    """A context whose round 1 has accepted attempts stored, ready to train; and its journal."""
    config = latex_config(tmp_path, ["1"] * 4, **(COLOCATED if colocate else {}))
    journal = Journal.options(num_cpus=0).remote()
    generators = [SleepyGenerator.options(**RESTARTABLE).remote(f"g{i}", journal, **extra)
                  for i, extra in enumerate(sleepers)]
    trainer = WatchingTrainer.options(**RESTARTABLE).remote(journal, generators, outcome)
    ctx = make_context(config, generators=generators, checker=AcceptingChecker.options(num_cpus=0).remote(),
                       trainer=trainer)
    assert rounds.generate_direct(ctx, 1, "m0") == set(ctx.train)
    return ctx, journal


def _after_start(journal) -> list[tuple]:
    return [e for e in ray.get(journal.read.remote()) if e[1] != "started"]


def test_the_round_trains_while_every_engine_sleeps_and_wakes_them_after(tmp_path, ray_session, latex_config,
                                                                          make_context):
    ctx, journal = _round(tmp_path, latex_config, make_context)
    trained = train_round(ctx, 1, "m0")
    model, examples, steps = trained.model, trained.examples, trained.steps
    assert (examples, steps) == (4, 3) and model.endswith("round_1")
    events = _after_start(journal)
    assert sorted(events[:2]) == [("g0", "sleep", 1), ("g1", "sleep", 1)]  # level 1: the weights survive
    assert events[2] == ("trainer", "train", ("asleep", "asleep"))
    assert sorted(events[3:]) == [("g0", "wake_up"), ("g1", "wake_up")]
    assert ray.get([g.state.remote() for g in ctx.workers.generators]) == ["awake", "awake"]


@pytest.mark.parametrize(("outcome", "error"), [("error", ValueError), ("dies", TrainingFailed)])
def test_engines_wake_when_training_fails(tmp_path, ray_session, latex_config, make_context, outcome, error):
    ctx, journal = _round(tmp_path, latex_config, make_context, outcome=outcome)
    with pytest.raises(error):
        train_round(ctx, 1, "m0")
    events = _after_start(journal)
    trained = [e for e in events if e[0] == "trainer"]
    # "dies": the trainer's retry trains once more on the restarted actor, the engines still asleep
    assert trained == [("trainer", "train", ("asleep", "asleep"))] * (2 if outcome == "dies" else 1)
    assert sorted(events[-2:]) == [("g0", "wake_up"), ("g1", "wake_up")]
    assert ray.get([g.state.remote() for g in ctx.workers.generators]) == ["awake", "awake"]


def test_an_engine_that_cannot_sleep_stops_training_and_the_others_wake(tmp_path, ray_session, latex_config,
                                                                          make_context):
    ctx, journal = _round(tmp_path, latex_config, make_context, sleepers=({}, {"cannot_sleep": True}))
    with pytest.raises(EnginesAwake, match=r"round 1: could not put generator\(s\) 1 \(RuntimeError.*out of "
                                           r"memory.*\) to sleep before training.* same run_name"):
        train_round(ctx, 1, "m0")
    events = _after_start(journal)
    assert not [e for e in events if e[0] == "trainer"]  # training never started
    assert events[0] == ("g0", "sleep", 1)  # the wake-ups run at once, in either order
    assert sorted(events[1:]) == [("g0", "wake_up"), ("g1", "wake_up")]


def test_a_generator_restarted_while_falling_asleep_is_put_to_sleep_too(tmp_path, ray_session, latex_config,
                                                                         make_context):
    marker = tmp_path / "g1-died"
    ctx, journal = _round(tmp_path, latex_config, make_context, sleepers=({}, {"marker": str(marker)}))
    train_round(ctx, 1, "m0")
    events = ray.get(journal.read.remote())
    assert marker.exists() and events.count(("g1", "started")) == 2  # it died and Ray restarted it
    assert ("trainer", "train", ("asleep", "asleep")) in events
    assert ray.get([g.state.remote() for g in ctx.workers.generators]) == ["awake", "awake"]


def test_without_colocate_the_engines_are_left_alone(tmp_path, ray_session, latex_config, make_context):
    ctx, journal = _round(tmp_path, latex_config, make_context, colocate=False)
    train_round(ctx, 1, "m0")
    assert _after_start(journal) == [("trainer", "train", ("awake", "awake"))]
