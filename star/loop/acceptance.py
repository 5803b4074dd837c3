"""From completions to accepted rationales: the STaR filter.

`accept="answer"` is the paper's filter (final answer matches the gold one);
`accept="answer_and_steps"` also requires every checkable step to be right,
which stops a rationalized scratchpad that merely copied the hint from being
trained on. Step correctness is recorded for every attempt either way, so the
two modes can be compared on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

from star.engines.requests import Completion
from star.tasks.base import Problem, Task


@dataclass(frozen=True)
class CheckItem:
    completion: Completion
    problem: Problem


@dataclass(frozen=True)
class ScoredItem:
    completion: Completion
    problem: Problem
    status: str
    correct: bool
    extracted: str | None
    steps_ok: bool | None
    accepted: bool


def is_accepted(correct: bool, steps_ok: bool | None, accept: str) -> bool:
    if accept == "answer":
        return correct
    if accept == "answer_and_steps":
        return correct and bool(steps_ok)
    raise ValueError(f"unknown acceptance mode {accept!r}; use answer or answer_and_steps")


def score_items(checker, task: Task, items: list[CheckItem], *, accept: str) -> list[ScoredItem]:
    """Verdicts (in worker processes) and step checks for a batch, in input order."""
    verdicts = checker.check_many([(item.completion.text, item.problem.gold) for item in items],
                                  answer_type=task.answer_type)
    scored = []
    for item, verdict in zip(items, verdicts):
        steps_ok = task.check_steps(item.completion.text, item.problem) if verdict.correct else None
        scored.append(ScoredItem(
            completion=item.completion, problem=item.problem, status=verdict.status,
            correct=verdict.correct, extracted=verdict.extracted, steps_ok=steps_ok,
            accepted=is_accepted(verdict.correct, steps_ok, accept),
        ))
    return scored
