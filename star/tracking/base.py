"""The interface every tracking backend implements, and the wrapper that keeps a run alive.

A tracker failure (a full disk, an unreachable server, a library bug) must never
fail a STaR run whose real record is the store: `SafeTracker` catches it, warns
once, and keeps trying on later calls (a server may come back).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from star.training.spec import TrainerReport


class Tracker(ABC):
    """One STaR run in a tracking backend; steps are round indices."""

    @abstractmethod
    def log_params(self, params: dict[str, str]) -> None:
        """The run's config, flattened to dotted keys."""

    @abstractmethod
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Scalars of one round (step = round index)."""

    def trainer_report(self, round_index: int) -> TrainerReport | None:
        """Where the trainer of `round_index` sends its own curves (TRL report_to); None: nowhere."""
        return None

    def close(self, *, failed: bool = False) -> None:
        """Flush and end the run (`failed`: the STaR run ended with an error)."""


class NullTracker(Tracker):
    """`tracking.backend: none`: logs nothing."""

    def log_params(self, params: dict[str, str]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        pass


class SafeTracker(Tracker):
    """Delegates to a backend; any exception becomes one warning for the whole run."""

    def __init__(self, inner: Tracker, warn: Callable[[str], None], name: str, *, trainer_metrics: bool = True) -> None:
        self.inner, self.warn, self.name = inner, warn, name
        self.trainer_metrics = trainer_metrics  # False: the trainer reports nowhere (tracking.trainer_metrics)
        self.failures = 0

    def log_params(self, params: dict[str, str]) -> None:
        self._call("log the config", self.inner.log_params, params)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self._call(f"log round {step}", self.inner.log_metrics, metrics, step)

    def trainer_report(self, round_index: int) -> TrainerReport | None:
        if not self.trainer_metrics:
            return None
        return self._call("set up the trainer's reporting", self.inner.trainer_report, round_index)

    def close(self, *, failed: bool = False) -> None:
        self._call("close its run", self.inner.close, failed=failed)

    def _call(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - tracking is a copy; the run goes on without it
            self.failures += 1
            if self.failures == 1:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.warn(f"tracking ({self.name}) could not {what} ({type(exc).__name__}: {reason}); "
                          "the run goes on and the store keeps every metric; further tracking errors are not shown")
            return None


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """{"a": {"b": 1}} -> {"a.b": "1"}: nested config as tracker params."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = "" if value is None else str(value)
    return out
