"""Checker pool: a Ray actor running verdicts in killable worker processes."""

from __future__ import annotations

import ray

from star.loop.acceptance import CheckItem, ScoredItem, score_items
from star.tasks.base import Task


@ray.remote
class CheckerActor:
    def __init__(self, workers: int, timeout: float, task: Task, accept: str,
                 require_work: str = "rationalized") -> None:
        from star.checker import Checker

        # The driver's task, without its problem pools (Task.for_checking): rebuilding it here would
        # re-read the dataset and need the same files on every node, and with its pools it would
        # travel through the object store, from which a restart could not get it back.
        self.workers = workers
        self.checker = Checker(workers=workers, timeout=timeout)
        self.task = task
        self.accept = accept
        self.require_work = require_work

    def score(self, items: list[CheckItem]) -> list[ScoredItem]:
        return score_items(self.checker, self.task, items, accept=self.accept, require_work=self.require_work)

    def rescore(self, items: list[CheckItem], timeout: float) -> list[ScoredItem]:
        """Check again on fresh worker processes with a longer timeout (timeouts and crashes only)."""
        from star.checker import Checker

        with Checker(workers=self.workers, timeout=timeout) as fresh:
            return score_items(fresh, self.task, items, accept=self.accept, require_work=self.require_work)

    def same_answers(self, pairs: list[tuple[str, str]]) -> list[bool]:
        """Equivalence of extracted answers (majority voting's answer classes)."""
        return self.checker.same_answers(pairs)

    def ready(self) -> bool:
        return True

    def pid(self) -> int:
        """This actor's process id: for operators and fault tests."""
        import os

        return os.getpid()
