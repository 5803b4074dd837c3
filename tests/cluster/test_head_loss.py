"""Losing the head node mid-round: the cluster is gone, and one command continues the run.

Ray keeps its control plane (the GCS) and every job's driver on the head, so
losing the head ends the run's job and, soon after, the worker nodes. The run
itself lives in the store and the checkpoint storage. The recovery a user
does: start the cluster again and resubmit the run name (`star submit CONFIG
--run-name RUN`); the new driver finds the dead driver's lease (its process is
gone from the head host) and takes it at once, and the round continues from
its stored attempts. Afterwards the store must hold what one uninterrupted run
holds and `star db check` must be clean.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from db.engine import open_store, session_factory
from db.models import Attempt, Round, Run, RunLease
from star.config import validate_config
from star.tasks import build_task

pytestmark = pytest.mark.slow

RUN = "head-loss"
K = 2


def _stored(sessions, kind: str) -> int:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Attempt).join(Round, Attempt.round_id == Round.id)
                        .where(Round.index == 1, Attempt.kind == kind)) or 0


def _wait_for(condition, what: str, timeout: float = 420) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)


def test_a_lost_head_is_recovered_by_restarting_the_cluster_and_resubmitting(
        own_cluster, pg_url, tiny_model, tiny_round_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tiny_round_config(tmp_path, tiny_model, samples=K, hinted=1, eval_per_digits=6)
    config["task"]["train_per_digits"] = 40
    config["sampling"]["batch_problems"] = 4  # many store writes: the loss lands mid-generation
    config_path = tmp_path / "run.yaml"
    config_path.write_text(yaml.safe_dump(config))
    n_train = len(build_task(validate_config(config).task).train_problems())
    def env() -> dict[str, str]:  # the cluster's address changes when it is started again
        return {**own_cluster.env, "STAR_DATABASE_URL": pg_url}

    assert own_cluster.star("db", "upgrade", env=env()).returncode == 0
    submitted = own_cluster.star("submit", str(config_path), "--run-name", RUN, env=env())
    assert submitted.returncode == 0, submitted.stderr
    sessions = session_factory(open_store(pg_url))
    _wait_for(lambda: _stored(sessions, "direct") > 0, "round 1's first rationales")

    own_cluster.lose_head()  # mid-round: the job, its driver and the GCS go at once
    lost_at = time.monotonic()
    stored_when_lost = _stored(sessions, "direct")
    assert 0 < stored_when_lost < n_train * K, "the head was lost after round 1's generation"
    with sessions() as s:  # the dead driver left its lease behind, heartbeat still fresh
        assert s.scalar(select(Run.status).where(Run.name == RUN)) == "running"
        assert s.scalar(select(func.count()).select_from(RunLease)) == 1

    own_cluster.start_head()  # the user's recovery: the cluster again (new ports here) ...
    own_cluster.start_worker_node()
    resubmitted = own_cluster.star("submit", str(config_path), "--run-name", RUN, "--wait", env=env())  # ... and this
    recovered_s = time.monotonic() - lost_at
    assert resubmitted.returncode == 0, resubmitted.stdout[-3000:] + resubmitted.stderr[-3000:]
    assert "took over the lease of pid" in resubmitted.stdout + resubmitted.stderr
    print(f"head lost with {stored_when_lost} of {n_train * K} rationales stored; run done {recovered_s:.0f} s later")

    with sessions() as s:
        assert s.scalar(select(Run.status).where(Run.name == RUN)) == "done"
        assert set(s.scalars(select(Round.status))) == {"done"}
        keys = s.execute(select(Attempt.problem_id, Attempt.sample_index).join(Round, Attempt.round_id == Round.id)
                         .where(Round.index == 1, Attempt.kind == "direct")).all()
    assert len(keys) == n_train * K and len(set(keys)) == len(keys)  # every sample once
    checked = own_cluster.star("db", "check", RUN, "--json", env=env())
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    assert json.loads(checked.stdout)["clean"] is True
