"""The loop's door to the store: every question a round asks of it and every record it writes.

star/loop/rounds.py reads like the paper; what "is this round done?", "which problems
have an accepted rationale?" or "record this checkpoint" mean in SQL lives here. Each
method is its own transaction, so a driver that dies leaves only whole writes, and
every answer comes from the store (never from this process's memory), which is what
makes a resumed round ask and do the same as the first try.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from db import store
from db.exploration import exploration_counts
from db.flips import snapshot_flips
from db.ledger import token_counts
from db.models import Round
from star.checker.verdict import CHECK_ERRORS
from star.engines.requests import Completion
from star.evaluation.heldout import HeldOutAnswer
from star.loop.acceptance import ScoredItem
from star.loop.recorder import AttemptRecorder
from star.loop.selection import Triplet
from star.tasks.base import Task
from star.training.spec import TrainResult


@dataclass(frozen=True)
class RecordedModel:
    """A round's checkpoint as the store recorded it."""

    path: str
    train_examples: int
    steps: int


@dataclass(frozen=True)
class StoredCheck:
    """A stored attempt whose check timed out or crashed, to be checked again."""

    attempt_id: int
    completion: Completion


class RoundStore:
    """The rounds of one run, by index (a round's row is created on first use)."""

    def __init__(self, sessions: sessionmaker[Session], run_name: str) -> None:
        self.sessions = sessions
        self.run_name = run_name

    def _round(self, session: Session, index: int) -> Round:
        return store.get_or_create_round(session, store.get_run(session, self.run_name), index)

    def round_id(self, index: int) -> int:
        with self.sessions() as session, session.begin():
            return self._round(session, index).id

    # --- a round's status ---------------------------------------------------------------

    def is_done(self, index: int) -> bool:
        with self.sessions() as session, session.begin():
            return self._round(session, index).status == "done"

    def model_out(self, index: int) -> str | None:
        """The checkpoint round `index` ended with, if it got that far."""
        with self.sessions() as session, session.begin():
            return self._round(session, index).model_out

    def extra_counts(self, index: int) -> dict[str, int | float]:
        """What round `index` has recorded beyond its fixed counts (check errors, a chosen temperature ...)."""
        with self.sessions() as session, session.begin():
            return dict(self._round(session, index).extra_counts)

    def keep_counts(self, index: int, counts: dict[str, int | float]) -> None:
        """Record counts (or a choice, such as the sampling temperature) with round `index` now."""
        with self.sessions() as session, session.begin():
            store.update_round(session, self._round(session, index), counts=counts)

    def mark(self, index: int, *, status: str, model_in: str | None = None) -> None:
        with self.sessions() as session, session.begin():
            store.update_round(session, self._round(session, index), status=status, model_in=model_in)

    def finish(self, index: int, *, model_in: str, model_out: str, counts: dict[str, int]) -> None:
        """Mark the round done with its counts and the check errors it was left with; snapshot the run's flips."""
        with self.sessions() as session, session.begin():
            rnd = self._round(session, index)
            check_errors = store.count_attempts_with_status(session, rnd.id, CHECK_ERRORS)
            explored = {**exploration_counts(session, rnd), **token_counts(session, [rnd.id])[rnd.id]}
            store.update_round(session, rnd, status="done", model_in=model_in, model_out=model_out,
                               counts={**counts, **explored, "check_errors": check_errors})
            # a done round's attempts never change: `star flips` of the run can read this copy
            snapshot_flips(session, rnd.run)

    def phase_clock(self, index: int, phase: str, clock: Callable[[], float]) -> Callable[[], None]:
        """Starts timing `phase`; each call of the returned function stores (earlier time + time since)."""
        with self.sessions() as session, session.begin():
            earlier = float(self._round(session, index).timings.get(phase, 0.0))
        started = clock()

        def save() -> None:
            with self.sessions() as session, session.begin():
                store.update_round(session, self._round(session, index),
                                   timings={phase: earlier + clock() - started})

        return save

    # --- attempts -------------------------------------------------------------------------

    def stored_keys(self, index: int) -> set[tuple[int, str, int]]:
        """(problem_id, kind, sample_index) of every attempt the round has stored."""
        with self.sessions() as session, session.begin():
            return store.attempt_keys(session, self._round(session, index).id)

    def recorder(self, index: int, *, task: Task, model: str, write_batch: int) -> AttemptRecorder:
        """Where a phase of round `index` stores its scored attempts."""
        return AttemptRecorder(self.sessions, task=task, round_id=self.round_id(index), model=model,
                               write_batch=write_batch)

    def verdicts(self, index: int, kind: str) -> list[tuple[int, bool]]:
        """(problem_id, accepted) of each attempt of one kind in round `index`."""
        with self.sessions() as session, session.begin():
            return store.attempt_verdicts(session, self._round(session, index).id, kind)

    def accepted_problems(self, index: int, kind: str) -> set[int]:
        return {pid for pid, accepted in self.verdicts(index, kind) if accepted}

    def checks_to_redo(self, index: int, kinds: Sequence[str]) -> list[StoredCheck]:
        """The round's attempts of `kinds` whose check timed out or crashed, in key order."""
        with self.sessions() as session, session.begin():
            rows = store.attempts_with_status(session, self._round(session, index).id, kinds, CHECK_ERRORS)
            return [StoredCheck(a.id, _completion(a)) for a in rows]

    def update_verdicts(self, verdicts: Sequence[tuple[int, ScoredItem]]) -> None:
        """Replace stored attempts' verdicts (by attempt id) with new ones, e.g. after a re-check."""
        rows = [store.AttemptVerdict(attempt_id, s.status, s.correct, s.accepted, s.extracted, s.steps_ok,
                                     s.refusal, s.path_key)
                for attempt_id, s in verdicts]
        with self.sessions() as session, session.begin():
            store.update_attempt_verdicts(session, rows)

    def accepted_triplets(self, index: int) -> list[Triplet]:
        """The round's accepted direct and rationalized attempts, hint removed: its training set."""
        with self.sessions() as session, session.begin():
            rows = store.accepted_triplets(session, self._round(session, index).id)
            return [Triplet(a.problem_id, a.train_prompt, a.completion, a.kind == "rationalized", a.path_key)
                    for a in rows]

    def heldout_answers(self, index: int, kind: str) -> list[HeldOutAnswer]:
        """The round's held-out answers of one kind (greedy or sampled), by problem and sample."""
        with self.sessions() as session, session.begin():
            return [HeldOutAnswer(a.problem_id, a.sample_index, a.prompt, a.completion, a.extracted, a.correct)
                    for a in store.round_attempts(session, self._round(session, index).id, kind)]

    # --- models and metrics ---------------------------------------------------------------

    def recorded_model(self, index: int) -> RecordedModel | None:
        with self.sessions() as session, session.begin():
            model = store.get_model(session, store.get_run(session, self.run_name), index)
            return None if model is None else RecordedModel(model.path, model.train_examples, model.steps)

    def record_model(self, index: int, result: TrainResult, *, parent: str, base: str, init: str) -> None:
        with self.sessions() as session, session.begin():
            store.record_model(
                session, run=store.get_run(session, self.run_name), round_index=index, path=result.output_dir,
                parent=parent, base=base, train_examples=result.examples, steps=result.steps,
                metrics={"final_loss": result.final_loss, "init": init, "truncated": result.truncated,
                         "examples_digest": result.examples_digest},
            )

    def record_metrics(self, index: int, metrics: dict[str, float], *, split: str = "eval") -> None:
        with self.sessions() as session, session.begin():
            rnd = self._round(session, index)
            for metric, value in metrics.items():
                store.record_evaluation(session, rnd, split=split, metric=metric, value=value)


def _completion(attempt) -> Completion:
    return Completion(
        problem_id=attempt.problem_id, kind=attempt.kind, sample_index=attempt.sample_index,
        prompt=attempt.prompt, text=attempt.completion, prompt_tokens=attempt.prompt_tokens,
        completion_tokens=attempt.completion_tokens, finished=True,
    )
