"""Checker pool: a Ray actor running verdicts in killable worker processes."""

from __future__ import annotations

import ray

from star.verdicts import CheckItem, ScoredItem, score_items


@ray.remote
class CheckerActor:
    def __init__(self, workers: int, timeout: float, task_config, accept: str) -> None:
        from star.checker import Checker
        from star.tasks import build_task

        self.checker = Checker(workers=workers, timeout=timeout)
        self.task = build_task(task_config)
        self.accept = accept

    def score(self, items: list[CheckItem]) -> list[ScoredItem]:
        return score_items(self.checker, self.task, items, accept=self.accept)
