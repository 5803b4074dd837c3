"""Opening the configured tracker for one `star run`, and the check that its package is installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from star.config import StarConfig
from star.config.tracking import TrackingConfig
from star.errors import ConfigError
from star.tracking.base import NullTracker, SafeTracker, Tracker, flatten

# backend -> (module it imports, what to pip install)
PACKAGES: dict[str, tuple[str, str]] = {
    "mlflow": ("mlflow", "mlflow-skinny"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "wandb": ("wandb", "wandb"),
}


def check_installed(config: TrackingConfig) -> None:
    """A chosen backend whose package is missing fails at start, naming the install to run."""
    if config.backend == "none":
        return
    module, package = PACKAGES[config.backend]
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"tracking.backend is {config.backend!r} but the {module!r} package is not installed; run "
            f"`pip install {package}` (or `pip install 'star[tracking]'` for every backend), "
            "or set tracking.backend: none"
        )


def run_params(config: StarConfig, database_url: str) -> dict[str, Any]:
    """The config as trackers log it: the store actually used, its password hidden."""
    from db.urls import display_url

    return {**config.model_dump(mode="json"), "database": display_url(database_url)}


def _build(config: TrackingConfig, run_name: str, storage: Path) -> Tracker:
    if config.backend == "mlflow":
        from star.tracking.mlflow_backend import MlflowTracker

        return MlflowTracker(config.mlflow, run_name=run_name, storage=storage)
    if config.backend == "tensorboard":
        from star.tracking.tensorboard_backend import TensorboardTracker

        return TensorboardTracker(config.tensorboard, run_name=run_name, storage=storage)
    if config.backend == "wandb":
        from star.tracking.wandb_backend import WandbTracker

        return WandbTracker(config.wandb, run_name=run_name, storage=storage)
    return NullTracker()


def open_tracker(config: TrackingConfig, *, run_name: str, storage: Path, params: dict[str, Any],
                 warn: Callable[[str], None]) -> Tracker:
    """The run's tracker with its config logged; a backend that fails to open warns and tracks nothing."""
    if config.backend == "none":
        return NullTracker()
    try:
        inner = _build(config, run_name, storage)
    except Exception as exc:  # noqa: BLE001 - a tracker that cannot open must not stop the run
        warn(f"tracking ({config.backend}) could not start ({type(exc).__name__}: {exc}); "
             "the run goes on without it and the store keeps every metric")
        return NullTracker()
    tracker = SafeTracker(inner, warn, config.backend, trainer_metrics=config.trainer_metrics)
    tracker.log_params(flatten(params))
    return tracker


@contextmanager
def tracking(config: TrackingConfig, *, run_name: str, storage: Path, params: dict[str, Any],
             warn: Callable[[str], None]) -> Iterator[Tracker]:
    """`open_tracker` for the duration of a run; closed as failed when the run raises."""
    tracker = open_tracker(config, run_name=run_name, storage=storage, params=params, warn=warn)
    try:
        yield tracker
    except BaseException:
        tracker.close(failed=True)
        raise
    tracker.close()
