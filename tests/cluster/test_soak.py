"""A few nights of the chaos soak (tests/cluster/soak.py) in CI, on a real two-node cluster and PostgreSQL.

The full month (30 nights, every kind of failure, the head once) is the script's and docs/cluster.md's;
CI runs three nights with the failures the other cluster tests do not already cover one at a time on a
cluster (the checker actor, the job's driver SIGKILLed, the real trainer mid-training), each compared
with the same night of three quiet ones on the same cluster, in a store of their own: the undisturbed
reference run.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the soak's modules (tests/ is not a package)

from soak import Soak, soak_config
from soak_plan import QUIET, Fault, plan_nights, print_table

pytestmark = pytest.mark.slow

CI_KINDS = ("checker", "driver_kill", "trainer")


def _fresh_schema(pg_database: str) -> str:
    """A new empty schema of the session's database: a store of its own (a tick fires every schedule of its store)."""
    schema = f"soak_{secrets.token_hex(4)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{pg_database}?options=-csearch_path%3D{schema}"


def test_three_nights_under_fire_end_as_three_quiet_nights_do(  # type: ignore[no-untyped-def]
        own_cluster, pg_database, tiny_model, tiny_round_config, tmp_path: Path) -> None:
    config = soak_config(tiny_model, tiny_round_config)
    # the undisturbed run; named apart, since Ray refuses a second job with a submission id (schedule + slot)
    calm = Soak(own_cluster, _fresh_schema(pg_database), config, tmp_path / "calm", name="soak-reference")
    calm.add_schedule()
    quiet = [calm.night(night, Fault(QUIET, 0.0)) for night in range(3)]
    assert [q.violations for q in quiet] == [0, 0, 0]

    soak = Soak(own_cluster, _fresh_schema(pg_database), config, tmp_path / "soak")
    soak.add_schedule()
    for night, fault in enumerate(plan_nights(3, seed=5, kinds=CI_KINDS)):
        result = soak.night(night, fault)
        assert result.injected and "killed" in result.note, f"night {night}: {fault.kind} missed ({result.note})"
        if fault.kind == "trainer":
            assert "trained again" in result.note  # the kill landed in training: the driver trained again
        assert (result.firings, result.violations) == (1, 0), result  # fired once; `star db check` clean
        # a failure that ends the job costs the firing one try; one that Ray or the driver absorbs, none
        assert result.tries == (2 if fault.kind == "driver_kill" else 1), result
        # the same seeds learn the same: held-out accuracy and accepted set (problem, kind, sample,
        # completion) identical to the quiet night's, although a process died in the middle
        assert (result.accuracy, result.accepted) == (quiet[night].accuracy, quiet[night].accepted), \
            (result, quiet[night])
    print_table(soak.results)
