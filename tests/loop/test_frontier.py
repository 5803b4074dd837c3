"""Frontier sampling: the round's budget moves from always-solved problems to the others."""

from __future__ import annotations

from pathlib import Path

import pytest

import db.store as store
from star.config import load_config
from star.errors import ConfigError
from star.loop.frontier import LastRound, allocate_samples, allocation_summary, last_round_record
from star.loop.rounds import samples_per_problem
from tests.loop.conftest import latex_task_config, run_context


def test_last_round_record_counts_right_and_sampled_per_problem() -> None:
    record = last_round_record([(1, True), (1, True), (2, True), (2, False), (3, False)])
    assert record == {1: LastRound(2, 2), 2: LastRound(1, 2), 3: LastRound(0, 1)}
    assert record[1].always_right and not record[2].always_right and not record[3].always_right
    assert not LastRound(0, 0).always_right


def test_always_right_problems_give_their_budget_to_the_others() -> None:
    record = {1: LastRound(4, 4), 2: LastRound(4, 4), 3: LastRound(1, 4), 4: LastRound(0, 4)}
    counts = allocate_samples([1, 2, 3, 4, 5], record, k=4, solved_samples=1, max_samples=16)
    # 20 samples in all: 1 each for the two solved problems, 18 shared by 3, 4 and 5 (never sampled)
    assert counts == {1: 1, 2: 1, 3: 6, 4: 6, 5: 6}
    assert sum(counts.values()) == 4 * 5


def test_the_remainder_goes_to_the_lowest_ids_and_the_split_is_deterministic() -> None:
    record = {10: LastRound(2, 2)}
    first = allocate_samples([30, 10, 20], record, k=2, solved_samples=1, max_samples=16)
    assert first == {10: 1, 20: 3, 30: 2}
    assert allocate_samples([20, 30, 10], record, k=2, solved_samples=1, max_samples=16) == first


def test_no_history_means_uniform_and_a_cap_bounds_one_problem() -> None:
    assert allocate_samples([1, 2, 3], {}, k=4, solved_samples=1, max_samples=16) == {1: 4, 2: 4, 3: 4}
    record = {pid: LastRound(3, 3) for pid in range(1, 10)}
    counts = allocate_samples(list(range(1, 11)), record, k=3, solved_samples=1, max_samples=8)
    assert counts[10] == 8  # 30 - 9 left, capped at 8: the unused samples are not spent
    assert all(counts[pid] == 1 for pid in range(1, 10))


def test_every_problem_solved_keeps_solved_samples_each() -> None:
    record = {1: LastRound(4, 4), 2: LastRound(4, 4)}
    assert allocate_samples([1, 2], record, k=4, solved_samples=2, max_samples=8) == {1: 2, 2: 2}


def test_bounds_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="solved_samples"):
        allocate_samples([1], {}, k=4, solved_samples=5, max_samples=16)
    with pytest.raises(ValueError, match="max_samples"):
        allocate_samples([1], {}, k=4, solved_samples=1, max_samples=3)


def test_summary_names_both_groups() -> None:
    record = {1: LastRound(4, 4), 2: LastRound(0, 4)}
    line = allocation_summary({1: 1, 2: 7}, record)
    assert "1 problems always right last round get 1 sample(s) each" in line
    assert "1 others get 7-7" in line and "8 samples in all" in line


def test_config_checks_frontier_bounds_only_when_frontier_is_on() -> None:
    assert load_config(None, {"sampling.samples_per_problem": 32}).sampling.allocation == "uniform"
    with pytest.raises(ConfigError, match="max_samples_per_problem"):
        load_config(None, {"sampling.allocation": "frontier", "sampling.samples_per_problem": 32})
    config = load_config(None, {"sampling.allocation": "frontier", "sampling.solved_samples": 2})
    assert config.sampling.solved_samples == 2


def _store_direct_attempts(ctx, index: int, verdicts: dict[int, list[bool]]) -> None:
    round_id = ctx.store.round_id(index)
    with ctx.sessions() as session, session.begin():
        store.insert_attempts(session, [
            store.AttemptRow(round_id, pid, "direct", i, "p", "p", "c", None, "ok", ok, ok, None, 1, 1, "m0")
            for pid, oks in verdicts.items() for i, ok in enumerate(oks)
        ])


def test_a_round_reads_the_previous_rounds_verdicts_from_the_store(tmp_path: Path) -> None:
    config = latex_task_config(tmp_path, ["1", "2", "3", "4"],
                               sampling={"samples_per_problem": 3, "allocation": "frontier"})
    ctx = run_context(config, generators=[], checker=None)
    first, second, third, fourth = sorted(ctx.train)
    assert samples_per_problem(ctx, 1) == dict.fromkeys(ctx.train, 3)  # round 1: no history
    _store_direct_attempts(ctx, 1, {first: [True] * 3, second: [True, False, False], third: [False] * 3})
    # 12 samples: 1 for the always-right problem, 11 for the other three (the lowest id gets the remainder)
    assert samples_per_problem(ctx, 2) == {first: 1, second: 4, third: 4, fourth: 3}
    uniform = latex_task_config(tmp_path, ["1", "2", "3", "4"], sampling={"samples_per_problem": 3})
    assert samples_per_problem(run_context(uniform, generators=[], checker=None), 2) == dict.fromkeys(ctx.train, 3)
