"""What every round needs, built once per `star run`: the config, the task, the problems, the
worker handles and the store.

The loop declares the handles it calls (`Handles`) instead of importing the actors
(workers/): star/run/workers.py starts them and hands them over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.orm import Session, sessionmaker

from star.config import StarConfig
from star.evaluation.heldout import load_verifier
from star.evaluation.strategies import Scorer
from star.loop.phase import Recovery
from star.loop.round_store import RoundStore
from star.loop.selection import Triplet
from star.progress import Progress
from star.tasks.base import Problem, Task
from star.tracking.base import NullTracker, Tracker


@dataclass
class Handles:
    """The actors a round calls: generation engines (`generate`, `sleep`, `wake_up`, `ready`), the
    checker (`score`, `rescore`, `same_answers`, `ready`) and the trainer (`train`, `ready`)."""

    generators: list
    checker: object
    trainer: object


@dataclass
class RunContext:
    """What every round needs; built once per `star run`."""

    config: StarConfig
    task: Task
    sessions: sessionmaker[Session]
    run_name: str
    base_model: str
    storage: str  # a local folder (absolute) or a URI (star/storage/runs.py)
    train: dict[int, Problem]
    held_out: dict[int, Problem]
    workers: Handles
    progress: Progress
    # Phase timings are wall seconds; injectable so tests need not wait.
    clock: Callable[[], float] = field(default=time.perf_counter)
    # evaluation.verifier path -> scorer; injectable so tests of the strategies need no trained verifier.
    scorer_factory: Callable[[str], Scorer] = field(default=load_verifier)
    # Optional experiment tracking (star/tracking): each finished round's metrics, the trainer's curves.
    tracker: Tracker = field(default_factory=NullTracker)
    # What every round trains on instead of its accepted rationales under a control `training.data`
    # (star/run/controls.py); None under the default, `rationales`.
    control_examples: list[Triplet] | None = None

    @cached_property
    def store(self) -> RoundStore:
        """The run's rounds in the store: everything the loop reads and writes there."""
        return RoundStore(self.sessions, self.run_name)

    def log(self, index: int, message: str) -> None:
        self.progress.log(f"round {index}: {message}")


def recovery_of(config: StarConfig) -> Recovery:
    """How hard a phase tries, from the config's `recovery` section."""
    cfg = config.recovery
    return Recovery(batch_tries=cfg.batch_tries, batch_timeout=cfg.batch_timeout,
                    restart_timeout=cfg.restart_timeout)
