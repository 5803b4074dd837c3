"""Pairs for the verifier, built from attempts in a real SQLite store."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from db.engine import open_store, session_factory
from star.verifier.pairs import Candidate, build_pairs, pair_accuracy, split_pairs
from star.verifier.service import VerifierOptions, plan_training


@pytest.fixture
def url(tmp_path: Path, store_run: Any, stored: Any) -> str:
    """Round 1 and 2 done, round 3 still running; round 0 holds the held-out evaluation."""
    S = stored
    rounds = {
        0: [S("e0", "eval", "eval right"), S("e0", "eval", "eval wrong", "incorrect"),
            S("e1", "eval", "eval wrong", "incorrect")],
        1: [S("p0", "direct", "p0 right a"), S("p0", "direct", "p0 right b"),
            S("p0", "direct", "p0 wrong a", "incorrect"), S("p0", "direct", "p0 wrong b", "no_answer"),
            S("p1", "direct", "p1 right")],  # p1: nothing wrong to pair with
        2: [S("p0", "direct", "p0 wrong a", "incorrect"),  # the same wrong rationale again: one example
            S("p2", "direct", "p2 wrong", "incorrect"), S("p2", "rationalized", "p2 hinted right"),
            S("p3", "direct", "p3 lucky", accepted=False), S("p3", "direct", "p3 wrong", "incorrect"),
            S("p4", "direct", "p4 right"), S("p4", "direct", "p4 timed out", "timeout")],
        3: [S("p1", "direct", "p1 wrong", "incorrect")],
    }
    target = f"sqlite:///{tmp_path}/star.db"
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")  # the recorded checkpoint is only checked, not loaded
    store_run(target, "demo", rounds, done=(0, 1, 2), checkpoint=str(tmp_path / "ckpt"))
    return target


def _plan(url: str, **options: Any):
    engine = open_store(url)
    try:
        with session_factory(engine)() as session:
            return plan_training(session, "demo", VerifierOptions(holdout=0.0, out=Path("/nonexistent/v"),
                                                                  **options))
    finally:
        engine.dispose()


def test_pairs_from_the_store(url: str) -> None:
    plan = _plan(url)
    assert plan.round_index == 2  # the last finished round: round 3 is still running
    got = sorted((p.prompt, p.chosen, p.rejected) for p in plan.train)
    assert got == [
        ("Q: p0\n", "p0 right a", "p0 wrong a"), ("Q: p0\n", "p0 right a", "p0 wrong b"),
        ("Q: p0\n", "p0 right b", "p0 wrong a"), ("Q: p0\n", "p0 right b", "p0 wrong b"),
        # the rationalized rationale is paired under the prompt it was trained on: no hint
        ("Q: p2\n", "p2 hinted right", "p2 wrong"),
    ]
    # held-out evaluation attempts never enter; nor do right-but-unaccepted ones or check errors
    texts = {t for p in plan.train for t in (p.chosen, p.rejected)}
    assert not texts & {"eval right", "eval wrong", "p3 lucky", "p4 timed out"}
    assert plan.held_out == [] and plan.problems == 2


def test_an_explicit_round_includes_later_attempts(url: str) -> None:
    plan = _plan(url, round_index=3)
    assert ("Q: p1\n", "p1 right", "p1 wrong") in {(p.prompt, p.chosen, p.rejected) for p in plan.train}
    only_first = _plan(url, round_index=1)
    assert {p.problem_id for p in only_first.train} == {min(p.problem_id for p in plan.train)}  # p0 alone


def test_cap_per_problem_is_a_seeded_sample() -> None:
    cands = [Candidate(pid, "q", f"right {i}", "correct", True, True) for pid in (1, 2) for i in range(4)]
    cands += [Candidate(pid, "q", f"wrong {i}", "incorrect", False, False) for pid in (1, 2) for i in range(4)]
    capped = build_pairs(cands, per_problem=3, seed=7)
    assert Counter(p.problem_id for p in capped) == {1: 3, 2: 3}
    assert capped == build_pairs(reversed(cands), per_problem=3, seed=7)  # not order-dependent
    assert build_pairs(cands, per_problem=3, seed=8) != capped
    # A problem's sample does not depend on which other problems are stored.
    alone = build_pairs([c for c in cands if c.problem_id == 2], per_problem=3, seed=7)
    assert alone == [p for p in capped if p.problem_id == 2]
    assert len(build_pairs(cands, per_problem=100, seed=7)) == 2 * 16


def test_holdout_keeps_whole_problems_apart() -> None:
    cands = [Candidate(pid, f"q{pid}", text, status, status == "correct", status == "correct")
             for pid in range(20) for text, status in (("r", "correct"), ("w1", "incorrect"), ("w2", "incorrect"))]
    train, held = split_pairs(build_pairs(cands, per_problem=4, seed=0), 0.25, seed=0)
    assert len({p.problem_id for p in held}) == 5 and len(held) == 10
    assert not {p.problem_id for p in train} & {p.problem_id for p in held}
    assert split_pairs(train[:2], 0.25, seed=0) == (train[:2], [])  # one problem: nothing held out


def test_pair_accuracy_counts_ties_half() -> None:
    assert pair_accuracy([1.0, 0.0, 2.0], [0.0, 1.0, 2.0]) == pytest.approx(0.5)
    assert pair_accuracy([3.0, 2.0], [1.0, 1.0]) == 1.0
    with pytest.raises(ValueError):
        pair_accuracy([], [])
