"""Checker timeouts and crashes are not wrong answers: re-check them once, then count what is left.

A check that overran `checker.timeout`, or whose worker process died, says
nothing about the answer. Such attempts are stored with status `timeout` /
`crashed`, and before the round uses them they are checked again on fresh
worker processes with `checker.recheck_timeout`; the stored rows are updated in
place. What still fails is a *check error* of the round (`check_errors` in
`star rounds`), not an incorrect answer. The statuses live in the store, so a
driver that dies mid-re-check re-checks the rest when the round resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import RayError
from sqlalchemy.orm import Session

import db.store as store
from star.errors import StarError
from star.generation import Completion
from star.pipeline import wait_ready
from star.tasks.base import Problem
from star.verdicts import CHECK_ERRORS, CheckItem

RECHECK_CHUNK = 256  # attempts per actor call: bounded work per call, progress between calls


class RecheckFailed(StarError):
    """The checker actor kept dying during the re-check; the round stays resumable."""


def recheck_errors(sessions: Callable[[], Session], checker, *, round_id: int, kinds: tuple[str, ...],
                   problems: dict[int, Problem], timeout: float, tries: int = 3,
                   restart_timeout: float = 1800.0) -> tuple[int, int]:
    """Re-check the round's timed-out or crashed attempts of `kinds`; returns (re-checked, still errors)."""
    with sessions() as session:
        rows = store.attempts_with_status(session, round_id, kinds, CHECK_ERRORS)
        items = [(a.id, CheckItem(_completion(a), problems[a.problem_id])) for a in rows]
    remaining = 0
    for start in range(0, len(items), RECHECK_CHUNK):
        chunk = items[start : start + RECHECK_CHUNK]
        scored = rescore(checker, [item for _, item in chunk], timeout, tries, restart_timeout)
        verdicts = [
            store.AttemptVerdict(attempt_id, s.status, s.correct, s.accepted, s.extracted, s.steps_ok)
            for (attempt_id, _), s in zip(chunk, scored)
        ]
        with sessions() as session, session.begin():
            store.update_attempt_verdicts(session, verdicts)
        remaining += sum(s.status in CHECK_ERRORS for s in scored)
    return len(items), remaining


def rescore(checker, items: list[CheckItem], timeout: float, tries: int, restart_timeout: float) -> list:
    """Check `items` again on fresh checker processes with `timeout` (timed-out or crashed checks)."""
    return call_checker(
        checker, "rescore", (items, timeout), tries=tries, restart_timeout=restart_timeout,
        what=f"re-checking {len(items)} timed-out or crashed checks",
        fix="the attempts keep their status, so re-running `star run` with the same run_name re-checks them",
    )


def call_checker(checker, method: str, args: tuple, *, tries: int, restart_timeout: float, what: str,
                 fix: str) -> Any:
    """`checker.<method>(*args)`, tried again on a restarted actor when the actor dies."""
    errors = []
    for _ in range(tries):
        try:
            return ray.get(getattr(checker, method).remote(*args))
        except RayError as exc:  # the checker actor died; Ray restarts it
            errors.append(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        try:
            wait_ready(checker, restart_timeout)
        except RayError:
            break
    raise RecheckFailed(f"{what} failed {len(errors)} times (last: {errors[-1]}); {fix}")


def _completion(attempt) -> Completion:
    return Completion(
        problem_id=attempt.problem_id, kind=attempt.kind, sample_index=attempt.sample_index,
        prompt=attempt.prompt, text=attempt.completion, prompt_tokens=attempt.prompt_tokens,
        completion_tokens=attempt.completion_tokens, finished=True,
    )
