"""Writes scored attempts to the store: batched, idempotent, one transaction per batch."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from db.store import AttemptRow, insert_attempts
from star.loop.acceptance import ScoredItem
from star.loop.rationalization import training_prompt
from star.tasks.base import Task


def attempt_row(item: ScoredItem, *, task: Task, round_id: int, model: str) -> AttemptRow:
    completion = item.completion
    return AttemptRow(
        round_id=round_id, problem_id=completion.problem_id, kind=completion.kind,
        sample_index=completion.sample_index, prompt=completion.prompt,
        train_prompt=training_prompt(task, completion, item.problem),
        completion=completion.text, extracted=item.extracted, status=item.status,
        correct=item.correct, accepted=item.accepted, steps_ok=item.steps_ok,
        prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
        model=model, refusal=item.refusal, path_key=item.path_key,
    )


class AttemptRecorder:
    """Callable handed to the pipeline: stores each scored batch as it arrives."""

    def __init__(self, sessions: Callable[[], Session], *, task: Task, round_id: int, model: str,
                 write_batch: int) -> None:
        self.sessions = sessions
        self.task = task
        self.round_id = round_id
        self.model = model
        self.write_batch = write_batch
        self.inserted = 0

    def __call__(self, scored: list[ScoredItem]) -> None:
        rows = [attempt_row(item, task=self.task, round_id=self.round_id, model=self.model) for item in scored]
        for start in range(0, len(rows), self.write_batch):
            with self.sessions() as session, session.begin():
                self.inserted += insert_attempts(session, rows[start : start + self.write_batch])
