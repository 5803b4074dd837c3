"""Each backend against its real library, with no server and no network: write, then read back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from star.config.tracking import MlflowConfig, TensorboardConfig, TrackingConfig
from star.tracking.base import SafeTracker, Tracker, flatten
from star.tracking.session import open_tracker

sys.path.insert(0, str(Path(__file__).parent))
import wandb_runs  # noqa: E402  (a helper next to this file, not a package module)


@pytest.mark.slow  # creating an MLflow SQLite store runs its migrations: 15-30 s on two busy cores
def test_mlflow_logs_rounds_as_steps_and_a_resumed_run_continues_the_same_mlflow_run(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from star.tracking.mlflow_backend import MlflowTracker

    tracker = MlflowTracker(MlflowConfig(), run_name="r1", storage=tmp_path / "runs")
    assert tracker.uri == f"sqlite:///{tmp_path}/runs/mlflow.db"  # the default: next to the run's checkpoints
    tracker.log_params(flatten({"rounds": 2, "sampling": {"temperature": 0.8}, "database": None}))
    tracker.log_metrics({"eval/accuracy": 0.25, "eval/accuracy/digits=1": 0.5}, step=0)
    tracker.close()
    again = MlflowTracker(MlflowConfig(), run_name="r1", storage=tmp_path / "runs")
    assert again.run_id == tracker.run_id
    again.log_params(flatten({"rounds": 3, "sampling": {"temperature": 0.8}}))  # resumed with more rounds
    again.log_metrics({"eval/accuracy": 0.5, "eval/accuracy/digits=1": 0.75}, step=1)
    again.close(failed=True)

    client = MlflowClient(tracking_uri=tracker.uri)
    history = client.get_metric_history(tracker.run_id, "eval/accuracy/digits_1")  # '=' is not allowed in MLflow
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.75)]
    run = client.get_run(tracker.run_id)
    assert run.data.params["sampling.temperature"] == "0.8" and run.data.params["rounds"] == "2"
    assert run.info.status == "FAILED" and run.info.run_name == "r1"
    assert Path(tmp_path, "runs", "mlartifacts").is_dir()  # artifacts next to the store, not in the cwd
    tags = json.loads(again.trainer_report(2).env["MLFLOW_TAGS"])
    assert tags["mlflow.parentRunId"] == tracker.run_id and tags["star.round"] == "2"


def test_mlflow_relative_uris_become_absolute(tmp_path: Path, monkeypatch) -> None:
    from star.tracking.mlflow_backend import resolve_uri

    monkeypatch.chdir(tmp_path)
    assert resolve_uri("file:./mlruns", Path("x")) == (tmp_path / "mlruns").as_uri()
    assert resolve_uri("mlruns", Path("x")) == (tmp_path / "mlruns").as_uri()
    assert resolve_uri("sqlite:///m.db", Path("x")) == f"sqlite:///{tmp_path}/m.db"
    assert resolve_uri("sqlite:////abs/m.db", Path("x")) == "sqlite:////abs/m.db"
    assert resolve_uri("http://127.0.0.1:5000", Path("x")) == "http://127.0.0.1:5000"


def test_logged_params_name_the_store_used_without_its_password() -> None:
    from star.config import load_config
    from star.tracking.session import run_params

    params = flatten(run_params(load_config(None), "postgresql+psycopg://star:s3cret@db.example:5432/star"))
    assert params["database"] == "postgresql+psycopg://star:***@db.example:5432/star"
    assert "s3cret" not in json.dumps(params) and params["sampling.temperature"] == "0.8"


def test_a_tracker_that_cannot_open_warns_and_the_run_goes_on(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # MLflow 3 then refuses its file store
    warnings: list[str] = []
    config = TrackingConfig(backend="mlflow", mlflow=MlflowConfig(tracking_uri=f"file:{tmp_path}/mlruns"))
    tracker = open_tracker(config, run_name="r", storage=tmp_path, params={"rounds": 1}, warn=warnings.append)
    tracker.log_metrics({"eval/accuracy": 1.0}, step=0)
    assert tracker.trainer_report(1) is None
    assert len(warnings) == 1 and "could not start" in warnings[0] and "mlflow" in warnings[0]


class _Broken(Tracker):
    """A backend whose every call fails, as an unreachable server's would."""

    def __init__(self) -> None:
        self.calls = 0

    def log_params(self, params: dict[str, str]) -> None:
        self.calls += 1
        raise OSError("connection refused")

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.calls += 1
        raise OSError("connection refused")


def test_tracking_failures_warn_once_and_keep_trying() -> None:
    warnings: list[str] = []
    inner = _Broken()
    tracker = SafeTracker(inner, warnings.append, "mlflow")
    tracker.log_params({"a": "1"})
    for step in range(3):
        tracker.log_metrics({"eval/accuracy": 0.5}, step=step)
    tracker.close()
    assert inner.calls == 4 and tracker.failures == 4
    assert len(warnings) == 1 and "connection refused" in warnings[0] and "store keeps every metric" in warnings[0]


def test_trainer_metrics_off_sends_the_trainer_nowhere(tmp_path: Path) -> None:
    config = TrackingConfig(backend="tensorboard", trainer_metrics=False,
                            tensorboard=TensorboardConfig(log_dir=str(tmp_path / "tb")))
    tracker = open_tracker(config, run_name="r", storage=tmp_path, params={}, warn=print)
    assert tracker.trainer_report(1) is None
    tracker.close()


def test_tensorboard_event_files_hold_the_round_scalars_and_the_config(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = TrackingConfig(backend="tensorboard")
    tracker = open_tracker(config, run_name="r1", storage=tmp_path, params={"rounds": 2, "seed": 0},
                           warn=pytest.fail)
    for step, accuracy in enumerate((0.25, 0.5)):
        tracker.log_metrics({"eval/accuracy": accuracy, "counts/accepted_direct": 10 + step}, step=step)
    report = tracker.trainer_report(1)
    tracker.close()

    events = EventAccumulator(str(tmp_path / "tensorboard" / "r1")).Reload()
    assert [(s.step, s.value) for s in events.Scalars("eval/accuracy")] == [(0, 0.25), (1, 0.5)]
    assert [s.value for s in events.Scalars("counts/accepted_direct")] == [10.0, 11.0]
    config_text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| rounds | 2 |" in config_text  # the run config as a table in the text tab
    assert report is not None and report.report_to == ("tensorboard",)
    assert report.env["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "tensorboard" / "r1" / "train" / "round_1")


def test_wandb_offline_writes_the_round_scalars_to_disk_without_network(tmp_path: Path, monkeypatch) -> None:
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_MODE"):
        monkeypatch.delenv(name, raising=False)
    config = TrackingConfig(backend="wandb")  # mode offline is the default
    tracker = open_tracker(config, run_name="r1", storage=tmp_path, params={"rounds": 2}, warn=pytest.fail)
    for step, accuracy in enumerate((0.25, 0.5)):
        tracker.log_metrics({"eval/accuracy": accuracy}, step=step)
    report = tracker.trainer_report(1)
    tracker.close()

    (run_file,) = tmp_path.glob("wandb/offline-run-*-r1/run-r1.wandb")
    wandb_runs.wait_for_exit(run_file)
    rows = [row for row in wandb_runs.history(run_file) if "eval/accuracy" in row]
    assert [(row["round"], row["eval/accuracy"]) for row in rows] == [(0, 0.25), (1, 0.5)]
    assert "rounds" in wandb_runs.config_keys(run_file)
    assert report is not None and report.env["WANDB_MODE"] == "offline" and report.env["WANDB_RUN_GROUP"] == "r1"
