"""Kill the driver mid-round; after resume no attempt is lost or duplicated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from db.engine import open_store, session_factory
from db.models import Attempt, Model, Round, Run, RunLease
from star.config import validate_config
from star.tasks import build_task

pytestmark = pytest.mark.slow

K = 2


def _config(tmp_path: Path, model: Path) -> dict:
    return {
        "run_name": "resume-test", "rounds": 1, "model": str(model),
        "database": f"sqlite:///{tmp_path}/star.db", "storage": str(tmp_path / "runs"),
        "task": {"name": "arithmetic", "min_digits": 1, "max_digits": 3, "train_per_digits": 40,
                 "eval_per_digits": 5},
        "sampling": {"samples_per_problem": K, "max_new_tokens": 80, "batch_problems": 4},
        "training": {"base_steps": 3, "batch_size": 8, "learning_rate": 1e-3},
        "evaluation": {"max_new_tokens": 80},
        "generators": {"max_model_len": 256, "cpu_kv_cache_gb": 1},
        "checker": {"workers": 1},
        "lease": {"heartbeat_s": 2, "timeout_s": 120},  # the refused restart below is not racy
    }


def _start(config_path: Path, log: Path, *extra: str) -> subprocess.Popen:
    # Own session, so the kill takes the driver and the Ray instance it started,
    # as a crashed machine would.
    return subprocess.Popen([sys.executable, "-m", "star", "run", str(config_path), "--quiet", *extra],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stored_direct(sessions) -> dict[tuple[int, int], str]:
    with sessions() as session:
        rows = session.execute(select(Attempt.problem_id, Attempt.sample_index, Attempt.completion)
                               .where(Attempt.kind == "direct"))
        return {(pid, idx): text for pid, idx, text in rows}


def test_killed_driver_resumes_without_losing_or_duplicating(tmp_path, tiny_model, kill_partway):
    raw = _config(tmp_path, tiny_model)
    config_path = tmp_path / "run.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    config = validate_config(raw)
    n_train = len(build_task(config.task).train_problems())
    total = n_train * K

    first = _start(config_path, tmp_path / "first.log")
    kill_partway(first, tmp_path / "star.db", total, tmp_path / "first.log", timeout_s=420)
    sessions = session_factory(open_store(config.database))
    before = _stored_direct(sessions)
    assert 0 < len(before) < total

    # The killed driver's heartbeat is still fresh, but its process on this host is gone:
    # the restart takes its lease at once instead of waiting lease.timeout_s or needing --force.
    second = _start(config_path, tmp_path / "second.log", "--resume", "resume-test")
    assert second.wait(timeout=900) == 0, (tmp_path / "second.log").read_text()[-3000:]
    log = (tmp_path / "second.log").read_text()
    assert f"took over the lease of pid {first.pid} on " in log and f"its process {first.pid} on " in log, log[-3000:]

    after = _stored_direct(sessions)
    assert len(after) == total  # nothing missing ...
    with sessions() as session:
        n_rows = session.scalar(select(func.count()).select_from(Attempt).where(Attempt.kind == "direct"))
        assert n_rows == total  # ... and nothing twice
        assert all(r.status == "done" for r in session.scalars(select(Round)))
        assert session.scalar(select(Run.status)) == "done"
        assert session.scalar(select(func.count()).select_from(RunLease)) == 0  # released
        assert session.scalar(select(func.count()).select_from(Model)) == 1
    # attempts stored before the kill are kept untouched
    assert all(after[key] == text for key, text in before.items())
