"""MLflow: one MLflow run per STaR run (step = round), one nested run per round's training.

The driver writes through an explicit `MlflowClient` (no global active run), so
nothing else in the process is affected. A resumed STaR run continues the same
MLflow run: it is found by its `star.run` tag.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from star.config.tracking import MlflowConfig
from star.tracking.base import Tracker
from star.training.spec import TrainerReport

RUN_TAG, ROLE_TAG = "star.run", "star.role"
# MLflow accepts letters, digits and _ - . space : / in names (what transformers' callback keeps too)
_UNSAFE = re.compile(r"[^0-9A-Za-z_\-. :/]")
_MAX_PARAM_CHARS = 250  # the smallest limit across MLflow versions and stores


def resolve_uri(uri: str | None, storage: Path) -> str:
    """The tracking URI with local paths absolute, so a trainer on another node (or with
    another working directory) writes the same store. None: an SQLite store in `storage`
    (MLflow 3 refuses its file store unless MLFLOW_ALLOW_FILE_STORE=true)."""
    if uri is None:
        return "sqlite:///" + str((storage / "mlflow.db").resolve())
    if "://" not in uri:  # a bare path, or file:./mlruns / file:mlruns (relative)
        return Path(uri.removeprefix("file:")).expanduser().resolve().as_uri()
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).expanduser().resolve())
    return uri


def sqlite_file(uri: str) -> Path | None:
    """The database file of a local SQLite URI with an absolute path."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:////") else None


class MlflowTracker(Tracker):
    def __init__(self, config: MlflowConfig, *, run_name: str, storage: Path) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = resolve_uri(config.tracking_uri, storage)
        db_file = sqlite_file(self.uri)
        if db_file is not None:
            db_file.parent.mkdir(parents=True, exist_ok=True)
        self.experiment = config.experiment
        self.client = MlflowClient(tracking_uri=self.uri)
        self.run_name = run_name
        experiment = self.client.get_experiment_by_name(config.experiment)
        if experiment is not None:
            self.experiment_id = experiment.experiment_id
        else:  # a local store keeps artifacts next to its file, not in ./mlartifacts of the working directory
            artifacts = (db_file.parent / "mlartifacts").as_uri() if db_file is not None else None
            self.experiment_id = self.client.create_experiment(config.experiment, artifact_location=artifacts)
        self.run_id = self._find_or_create_run()

    def _find_or_create_run(self) -> str:
        query = f"tags.`{RUN_TAG}` = '{self.run_name}' and tags.`{ROLE_TAG}` = 'rounds'"
        found = self.client.search_runs([self.experiment_id], filter_string=query, max_results=1)
        if found:
            run_id = found[0].info.run_id
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        run = self.client.create_run(self.experiment_id, run_name=self.run_name,
                                     tags={RUN_TAG: self.run_name, ROLE_TAG: "rounds"})
        return run.info.run_id

    def log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        # MLflow params are immutable: a resumed run keeps the first value (the full config is the artifact)
        logged = self.client.get_run(self.run_id).data.params
        new = [Param(safe_name(k), v[:_MAX_PARAM_CHARS]) for k, v in sorted(params.items())
               if safe_name(k) not in logged]
        for start in range(0, len(new), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=new[start:start + 100])
        text = "\n".join(f"{k}: {v}" for k, v in sorted(params.items())) + "\n"
        self.client.log_text(self.run_id, text, "star_config.txt")

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = [Metric(safe_name(k), float(v), now, step) for k, v in sorted(metrics.items())]
        for start in range(0, len(rows), 1000):  # MLflow takes at most 1000 metrics per batch
            self.client.log_batch(self.run_id, metrics=rows[start:start + 1000])

    def trainer_report(self, round_index: int) -> TrainerReport:
        """transformers' MLflowCallback starts a run per training, tagged as this run's child."""
        tags = {"mlflow.parentRunId": self.run_id, RUN_TAG: self.run_name, ROLE_TAG: "train",
                "star.round": str(round_index)}
        env = {"MLFLOW_TRACKING_URI": self.uri, "MLFLOW_EXPERIMENT_NAME": self.experiment,
               "MLFLOW_TAGS": json.dumps(tags), "MLFLOW_NESTED_RUN": "false"}
        return TrainerReport(("mlflow",), run_name=f"{self.run_name} round {round_index} training", env=env)

    def close(self, *, failed: bool = False) -> None:
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")


def safe_name(name: str) -> str:
    """`accuracy/digits=3` -> `accuracy/digits_3`: a metric or param name MLflow accepts."""
    return _UNSAFE.sub("_", name)
