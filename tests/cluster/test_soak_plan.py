"""The chaos soak's plan and table (tests/cluster/soak_plan.py): pure functions, in the fast lane."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the soak's modules (tests/ is not a package)

from soak_plan import FAULTS, QUIET, Fault, NightResult, compare_runs, plan_nights, print_table, summary_rows

CI_KINDS = ("checker", "driver_kill", "trainer")


def test_the_plan_is_seeded_gives_each_kind_its_share_and_loses_the_head_once() -> None:
    plan = plan_nights(30, seed=0)
    assert plan == plan_nights(30, seed=0) and plan != plan_nights(30, seed=1)
    kinds = [f.kind for f in plan]
    assert kinds.count("head") == 1
    others = [kinds.count(k) for k in FAULTS if k != "head"]
    assert set(others) <= {3, 4, 5} and sum(others) == 29  # blocks of 7, one slot given to the head
    assert all(0.05 <= f.at_share <= 0.9 for f in plan)
    assert sorted(f.kind for f in plan_nights(3, 5, CI_KINDS)) == sorted(CI_KINDS)
    with pytest.raises(ValueError, match="unknown fault kinds"):
        plan_nights(3, 0, ("meteor",))


def test_the_table_summarises_recovery_per_kind() -> None:
    results = [NightResult(0, 1, Fault("checker", 0.5), True, 30.0, 1, 0),
               NightResult(1, 2, Fault("checker", 0.2), True, 50.0, 1, 0, tries=2),
               NightResult(2, 3, Fault("trainer", 0.2), False, None, 2, 1, "the round ended first")]
    rows = {r["kind"]: r for r in summary_rows(results)}
    assert (rows["checker"]["min_s"], rows["checker"]["median_s"], rows["checker"]["max_s"]) == (30.0, 40.0, 50.0)
    assert (rows["trainer"]["injected"], rows["trainer"]["extra_firings"], rows["trainer"]["violations"]) == (0, 1, 1)
    lines: list[str] = []
    print_table(results, lines.append)
    assert "| checker | 2 | 2 | 30 / 40 / 50 | 1-2 | 0 | 0 |" in lines
    assert "failures injected: 2; slots fired exactly once: 2; violations: 1" in lines[-1]


def test_a_run_is_compared_night_by_night_with_a_reference() -> None:
    ours = [NightResult(0, 1, Fault("checker", 0.5), True, 30.0, 1, 0, accuracy=0.5, accepted="12:ab"),
            NightResult(1, 2, Fault("trainer", 0.5), True, 30.0, 1, 0, accuracy=0.6, accepted="13:cd")]
    reference = [{"accuracy": 0.5, "accepted": "12:ab"}, {"accuracy": 0.6, "accepted": "13:ce"}]
    lines: list[str] = []
    assert compare_runs(ours, reference, lines.append) == 1
    assert lines[1].startswith("night  1: DIFFERENT") and lines[-1] == "same as the reference on 1 of 2 nights"
    assert [f.kind for f in plan_nights(2, 0, (QUIET,))] == [QUIET, QUIET]
