"""From completions to accepted rationales: the STaR filter.

`accept="answer"` is the paper's filter (final answer matches the gold one);
`accept="answer_and_steps"` also requires every checkable step to be right.
Step correctness is recorded for every attempt either way, so the two modes can
be compared on the same data.

`require_work` refuses a rationale that reached the gold answer without doing
the work (a bare `Answer: 90`, the hint restated before any step): by default
on rationalized attempts, whose prompt held the answer (Task.work_refusal,
star/checker/work.py). A correct attempt that is not accepted stores why in
`refusal`, and every correct direct or rationalized attempt stores the key of its reasoning path
(Task.reasoning_path), which `training.dedup: path` and the exploration
metrics count distinct paths by.
"""

from __future__ import annotations

from dataclasses import dataclass

from star.engines.requests import Completion
from star.tasks.base import Problem, Task

#: a correct attempt refused by `accept: answer_and_steps`: a checkable step is wrong
WRONG_STEPS = "wrong_steps"
#: why a correct attempt was not accepted (`attempts.refusal`); the last two come from Task.work_refusal
REFUSALS = (WRONG_STEPS, "no_work", "answer_first", "not_computed")
#: attempt kinds a training example can come from, and so the kinds `require_work` may apply to
TRAINING_KINDS = ("direct", "rationalized")
#: held-out answers are graded, never trained on or deduplicated: no reasoning path is kept for them
HELD_OUT_KINDS = ("eval", "eval_sample")


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
    refusal: str | None = None
    path_key: str | None = None


def is_accepted(correct: bool, steps_ok: bool | None, accept: str) -> bool:
    if accept == "answer":
        return correct
    if accept == "answer_and_steps":
        return correct and bool(steps_ok)
    raise ValueError(f"unknown acceptance mode {accept!r}; use answer or answer_and_steps")


def needs_work(kind: str, require_work: str) -> bool:
    """Whether an attempt of `kind` must show its work under `require_work` (rationalized / all / none)."""
    if require_work not in ("rationalized", "all", "none"):
        raise ValueError(f"unknown require_work {require_work!r}; use rationalized, all or none")
    if require_work == "all":
        return kind in TRAINING_KINDS
    return require_work == "rationalized" and kind == "rationalized"


def refusal_of(task: Task, item: CheckItem, steps_ok: bool | None, *, accept: str,
               require_work: str) -> str | None:
    """Why a correct attempt is not accepted, or None when it is."""
    if not is_accepted(True, steps_ok, accept):
        return WRONG_STEPS
    if needs_work(item.completion.kind, require_work):
        return task.work_refusal(item.completion.text, item.problem)
    return None


def score_items(checker, task: Task, items: list[CheckItem], *, accept: str,
                require_work: str = "rationalized") -> list[ScoredItem]:
    """Verdicts (in worker processes), step checks, refusals and path keys for a batch, in input order."""
    from star.checker.work import path_key

    verdicts = checker.check_many([(item.completion.text, item.problem.gold) for item in items],
                                  answer_type=task.answer_type)
    scored = []
    for item, verdict in zip(items, verdicts):
        steps_ok = refusal = key = None
        if verdict.correct:
            steps_ok = task.check_steps(item.completion.text, item.problem)
            refusal = refusal_of(task, item, steps_ok, accept=accept, require_work=require_work)
            if item.completion.kind not in HELD_OUT_KINDS:  # read by dedup, exploration and the balance probe
                key = path_key(task.reasoning_path(item.completion.text, item.problem))
        scored.append(ScoredItem(
            completion=item.completion, problem=item.problem, status=verdict.status,
            correct=verdict.correct, extracted=verdict.extracted, steps_ok=steps_ok,
            accepted=verdict.correct and refusal is None, refusal=refusal, path_key=key,
        ))
    return scored
