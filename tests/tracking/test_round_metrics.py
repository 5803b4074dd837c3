"""What a round sends to the tracker is read from the store, so metrics stored by any code appear."""

from __future__ import annotations

from pathlib import Path

import db.store as store
from db.engine import open_store, session_factory
from star.tracking.base import Tracker
from star.tracking.rounds import log_round, round_metrics


class _Recording(Tracker):
    def __init__(self) -> None:
        self.logged: list[tuple[int, dict[str, float]]] = []

    def log_params(self, params: dict[str, str]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.logged.append((step, metrics))


def test_a_round_logs_every_stored_evaluation_its_counts_and_timings(tmp_path: Path) -> None:
    sessions = session_factory(open_store(f"sqlite:///{tmp_path}/star.db"))
    with sessions() as session, session.begin():
        run = store.get_or_create_run(session, "r", config={}, base_model="m")
        rnd = store.get_or_create_round(session, run, 1)
        store.record_evaluation(session, rnd, split="eval", metric="accuracy", value=0.5)
        store.record_evaluation(session, rnd, split="eval", metric="accuracy/digits=2", value=0.25)
        store.record_evaluation(session, rnd, split="eval", metric="maj_at_k", value=0.625)  # a metric added later
        store.update_round(session, rnd, status="done", timings={"generate": 3.5, "train": 10.0},
                           counts={"attempted": 60, "accepted_direct": 40, "accepted_rationalized": 5,
                                   "train_examples": 50, "train_steps": 4, "check_errors": 1})
        other = store.get_or_create_round(session, run, 0)
        store.record_evaluation(session, other, split="eval", metric="accuracy", value=0.1)

    with sessions() as session:
        metrics = round_metrics(session, "r", 1)
    assert metrics == {
        "eval/accuracy": 0.5, "eval/accuracy/digits=2": 0.25, "eval/maj_at_k": 0.625,
        "counts/attempted": 60, "counts/accepted_direct": 40, "counts/accepted_rationalized": 5,
        "counts/train_examples": 50, "counts/train_steps": 4, "counts/check_errors": 1,
        "timings/generate": 3.5, "timings/train": 10.0,
    }  # no tokens counted: no ledger figures invented
    tracker = _Recording()
    log_round(tracker, sessions, "r", 0)
    assert tracker.logged == [(0, {"eval/accuracy": 0.1})]  # round 0 has no counts yet: none are invented


def test_a_round_with_token_counts_logs_its_ledger(tmp_path: Path) -> None:
    sessions = session_factory(open_store(f"sqlite:///{tmp_path}/star.db"))
    with sessions() as session, session.begin():
        rnd = store.get_or_create_round(session, store.get_or_create_run(session, "r", config={}, base_model="m"), 1)
        store.update_round(session, rnd, status="done", counts={
            "train_examples": 8, "new_paths": 4, "tokens_direct": 300, "tokens_rationalized": 100,
            "tokens_eval_greedy": 50, "tokens_eval_sampled": 0})
    with sessions() as session:
        metrics = round_metrics(session, "r", 1)
    assert metrics["counts/tokens_direct"] == 300
    assert {k: v for k, v in metrics.items() if k.startswith("ledger/")} == {
        "ledger/tokens_generated": 450, "ledger/tokens_training_pool": 400, "ledger/tokens_per_example": 50.0,
        "ledger/tokens_per_new_path": 100.0}
