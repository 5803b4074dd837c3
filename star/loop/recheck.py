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

from typing import Any

from star.actor_calls import ActorLost, call_with_restarts
from star.checker.verdict import CHECK_ERRORS
from star.errors import StarError
from star.loop.acceptance import CheckItem, ScoredItem
from star.loop.round_store import RoundStore
from star.tasks.base import Problem

RECHECK_CHUNK = 256  # attempts per actor call: bounded work per call, progress between calls


class RecheckFailed(StarError):
    """The checker actor kept dying during the re-check; the round stays resumable."""


def recheck_errors(rounds: RoundStore, checker, *, round_index: int, kinds: tuple[str, ...],
                   problems: dict[int, Problem], timeout: float, tries: int = 3,
                   restart_timeout: float = 1800.0) -> tuple[int, int]:
    """Re-check the round's timed-out or crashed attempts of `kinds`; returns (re-checked, still errors)."""
    items = [(check.attempt_id, CheckItem(check.completion, problems[check.completion.problem_id]))
             for check in rounds.checks_to_redo(round_index, kinds)]
    remaining = 0
    for start in range(0, len(items), RECHECK_CHUNK):
        chunk = items[start : start + RECHECK_CHUNK]
        scored = rescore(checker, [item for _, item in chunk], timeout, tries, restart_timeout)
        rounds.update_verdicts([(attempt_id, s) for (attempt_id, _), s in zip(chunk, scored)])
        remaining += sum(s.status in CHECK_ERRORS for s in scored)
    return len(items), remaining


def rescore(checker, items: list[CheckItem], timeout: float, tries: int, restart_timeout: float) -> list[ScoredItem]:
    """Check `items` again on fresh checker processes with `timeout` (timed-out or crashed checks)."""
    return call_checker(
        checker, "rescore", (items, timeout), tries=tries, restart_timeout=restart_timeout,
        what=f"re-checking {len(items)} timed-out or crashed checks",
        fix="the attempts keep their status, so re-running `star run` with the same run_name re-checks them",
    )


def call_checker(checker, method: str, args: tuple, *, tries: int, restart_timeout: float, what: str,
                 fix: str) -> Any:
    """`checker.<method>(*args)`, tried again on a restarted actor when the actor dies."""
    try:
        return call_with_restarts(checker, method, *args, tries=tries, restart_timeout=restart_timeout)
    except ActorLost as lost:
        raise RecheckFailed(f"{what} failed {len(lost.reasons)} times (last: {lost.last}); {fix}") from None
