"""The `tracking:` config section: where per-round and trainer metrics are also sent.

Kept apart from star/config/run.py so the tracking package owns its fields; StarConfig
holds one `tracking` field of this type. No backend package is imported here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Backend = Literal["none", "mlflow", "tensorboard", "wandb"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MlflowConfig(_Section):
    tracking_uri: str | None = Field(
        None, min_length=1,
        description="MLflow tracking URI: a server (http://host:5000), a database (sqlite:///mlflow.db) or a "
                    "local folder (file:./mlruns, needs MLFLOW_ALLOW_FILE_STORE=true on MLflow 3); relative paths are "
                    "made absolute. None: sqlite:///<storage>/mlflow.db (<storage>: the storage folder; for a storage "
                    "URI, the local star_runs folder next to the SQLite database).",
    )
    experiment: str = Field("star", min_length=1, max_length=200, description="MLflow experiment name.")


class TensorboardConfig(_Section):
    log_dir: str | None = Field(
        None, min_length=1,
        description="Folder for TensorBoard event files (one subfolder per run). None: <storage>/tensorboard "
                    "(a storage URI: the local star_runs folder).",
    )


class WandbConfig(_Section):
    project: str = Field("star", min_length=1, max_length=128, description="Weights & Biases project.")
    entity: str | None = Field(None, min_length=1, description="W&B team or user (None: your default).")
    mode: Literal["online", "offline"] = Field(
        "offline", description="offline writes runs to disk only (no network; `wandb sync` uploads them later)."
    )
    dir: str | None = Field(None, min_length=1, description="Folder W&B writes under. None: <storage> "
                                     "(a storage URI: the local star_runs folder).")


class TrackingConfig(_Section):
    backend: Backend = Field(
        "none", description="Also log per-round metrics and the trainer's loss curves to this tracker "
                            "(none, mlflow, tensorboard or wandb; each needs its package: pip install 'star[tracking]').",
    )
    trainer_metrics: bool = Field(
        True, description="Send the trainer's own loss / learning-rate curves (TRL report_to) to the same backend."
    )
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig, description="MLflow settings.")
    tensorboard: TensorboardConfig = Field(default_factory=TensorboardConfig, description="TensorBoard settings.")
    wandb: WandbConfig = Field(default_factory=WandbConfig, description="Weights & Biases settings.")
