"""Training retried once when its actor dies; phase timings kept and added up across resumes."""

from __future__ import annotations

import os
from itertools import count
from pathlib import Path

import pytest
import ray

import db.store as store
from star.loop import rounds
from star.loop.acceptance import CheckItem, ScoredItem
from star.loop.train import TrainingFailed, train_with_retry
from star.training.spec import TrainResult, TrainSpec

pytestmark = pytest.mark.slow  # real Ray actors (fakes for the workers)

RESTARTABLE = {"num_cpus": 0, "max_restarts": -1, "max_task_retries": 0}
SPEC = TrainSpec(init_model="base", output_dir="out", examples=[])


@ray.remote
class FlakyTrainer:
    """Dies (as a killed process) the first `deaths` calls; counts calls in files, which survive restarts."""

    def __init__(self, folder: str, deaths: int, error: bool = False) -> None:
        self.folder, self.deaths, self.error = Path(folder), deaths, error

    def ready(self) -> bool:
        return True

    def train(self, spec: TrainSpec) -> TrainResult:
        calls = len(list(self.folder.iterdir()))
        (self.folder / f"call-{calls}").touch()
        if self.error:
            raise ValueError("bad training data")
        if calls < self.deaths:
            os._exit(1)
        return TrainResult(output_dir=spec.output_dir, steps=3, examples=5, final_loss=0.5)


def _trainer(tmp_path: Path, deaths: int, error: bool = False):
    folder = tmp_path / "calls"
    folder.mkdir()
    return FlakyTrainer.options(**RESTARTABLE).remote(str(folder), deaths, error), folder


def test_a_trainer_killed_mid_training_is_retried_once_from_scratch(tmp_path, ray_session):
    trainer, calls = _trainer(tmp_path, deaths=1)
    logs: list[str] = []
    result = train_with_retry(trainer, SPEC, round_index=2, log=logs.append)
    assert result.steps == 3 and len(list(calls.iterdir())) == 2
    assert len(logs) == 1 and logs[0].startswith("round 2: the trainer actor died")


def test_a_second_death_is_a_clear_error(tmp_path, ray_session):
    trainer, calls = _trainer(tmp_path, deaths=2)
    with pytest.raises(TrainingFailed, match=r"round 2: the trainer actor died twice .* same run_name trains again"):
        train_with_retry(trainer, SPEC, round_index=2)
    assert len(list(calls.iterdir())) == 2  # no third try


def test_an_error_raised_by_training_is_not_retried(tmp_path, ray_session):
    trainer, calls = _trainer(tmp_path, deaths=0, error=True)
    with pytest.raises(ValueError, match="bad training data"):
        train_with_retry(trainer, SPEC, round_index=1)
    assert len(list(calls.iterdir())) == 1


@ray.remote
class AcceptingChecker:
    def score(self, items: list[CheckItem]) -> list[ScoredItem]:
        return [ScoredItem(i.completion, i.problem, "correct", True, "1", None, True) for i in items]


class RecordingClock:
    """Advances one second per reading; remembers the readings."""

    def __init__(self) -> None:
        self.ticks = count()
        self.readings: list[float] = []

    def __call__(self) -> float:
        self.readings.append(float(next(self.ticks)))
        return self.readings[-1]


def test_phase_timings_survive_a_resume(tmp_path, ray_session, latex_config, make_context, scripted_generator):
    config = latex_config(tmp_path, [str(i) for i in range(8)])
    clock = RecordingClock()
    ctx = make_context(config, generators=[], checker=AcceptingChecker.options(num_cpus=0).remote(), clock=clock)
    ctx.workers.generators = [scripted_generator.options(num_cpus=0).remote({pid: "1" for pid in ctx.train})]
    everything = dict(ctx.train)

    def stored_time() -> float:
        with ctx.sessions() as session:
            rnd = store.get_round(session, store.get_run(session, "fault"), 1)
            return rnd.timings["generate"]

    # a first driver generates half of the problems, then "dies"
    ctx.train = dict(list(everything.items())[:4])
    rounds.generate_direct(ctx, 1, "m0")
    first = stored_time()
    assert first == clock.readings[-1] - clock.readings[0] > 0

    # the resumed driver generates the rest: its time is added to the first one's
    ctx.train = everything
    before = len(clock.readings)
    rounds.generate_direct(ctx, 1, "m0")
    resumed = clock.readings[before:]
    assert stored_time() == first + resumed[-1] - resumed[0]

    # resumed again with nothing left: the stored time stays, it is not replaced by ~0
    total = stored_time()
    rounds.generate_direct(ctx, 1, "m0")
    assert stored_time() == total
