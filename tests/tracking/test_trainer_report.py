"""The trainer's own curves (TRL report_to) with real TRL on CPU, outside Ray: W&B offline.

The trainer actor lives across rounds, so each round's training must land in its
own W&B run and leave no settings behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from star.config.tracking import TrackingConfig
from star.models.tiny import TinyModelRecipe, init_random_model, seed_examples
from star.tracking.session import open_tracker
from star.training.sft import train_sft
from star.training.spec import TrainSpec

pytestmark = pytest.mark.slow

sys.path.insert(0, str(Path(__file__).parent))
import wandb_runs  # noqa: E402  (a helper next to this file, not a package module)


def test_each_round_trains_into_its_own_offline_wandb_run_and_restores_the_environment(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_PROJECT", "WANDB_DIR", "WANDB_RUN_GROUP"):
        monkeypatch.delenv(name, raising=False)
    recipe = TinyModelRecipe()
    init_random_model(tmp_path / "init", recipe)
    tracker = open_tracker(TrackingConfig(backend="wandb"), run_name="r1", storage=tmp_path, params={},
                           warn=pytest.fail)
    reports = {index: tracker.trainer_report(index) for index in (1, 2)}
    tracker.close()
    # The trainer trains in its own process (the Ray actor): wandb keeps process-wide settings,
    # so the driver's run must not share a process with it here either.
    script = "\n".join([
        "import json, os, sys",
        "from star.models.tiny import TinyModelRecipe, seed_examples",
        "from star.training.sft import train_sft",
        "from star.training.spec import TrainSpec, TrainerReport",
        "root, reports = sys.argv[1], json.loads(sys.argv[2])",
        "for index, (name, env) in sorted(reports.items()):",
        "    train_sft(TrainSpec(init_model=root + '/init', output_dir=f'{root}/round_{index}',",
        "              examples=seed_examples(TinyModelRecipe())[:32], max_steps=2, batch_size=8,",
        "              learning_rate=1e-3, report=TrainerReport(('wandb',), run_name=name, env=env)), progress=False)",
        "    assert 'WANDB_RUN_GROUP' not in os.environ  # set only while training",
    ])
    payload = json.dumps({i: [r.run_name, r.env] for i, r in reports.items()})
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path), payload], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "failed in" not in done.stderr  # no reporting callback was switched off

    runs = {wandb_runs.run_name(path): path for path in tmp_path.glob("wandb/offline-run-*/run-*.wandb")}
    assert set(runs) == {"r1", "r1-round-1-train", "r1-round-2-train"}
    for index in (1, 2):
        history = wandb_runs.history(runs[f"r1-round-{index}-train"])
        losses = [row["train/loss"] for row in history if "train/loss" in row]
        assert len(losses) == 2 and all(loss > 0 for loss in losses)


def test_a_reporting_failure_inside_training_does_not_fail_the_round(tmp_path: Path, monkeypatch, capfd) -> None:
    from star.training.spec import TrainerReport

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # MLflow 3 refuses a file store: a real failure
    recipe = TinyModelRecipe()
    init_random_model(tmp_path / "init", recipe)
    report = TrainerReport(("mlflow",), run_name="r round 1 training",
                           env={"MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri()})
    result = train_sft(TrainSpec(init_model=str(tmp_path / "init"), output_dir=str(tmp_path / "round_1"),
                                 examples=seed_examples(recipe)[:32], max_steps=2, batch_size=8,
                                 learning_rate=1e-3, report=report), progress=False)
    assert result.steps == 2 and Path(result.output_dir, "config.json").exists()
    assert "training goes on without the trainer's curves" in capfd.readouterr().err


def test_the_trainer_gets_the_backend_callback_guarded_and_pointed_at_the_round_folder(tmp_path: Path) -> None:
    from transformers.integrations import TensorBoardCallback

    from star.training.report_guard import GuardedCallback
    from star.training.sft import build_trainer, report_env
    from star.training.spec import TrainerReport

    recipe = TinyModelRecipe()
    init_random_model(tmp_path / "init", recipe)
    report = TrainerReport(("tensorboard",), run_name="round_1",
                           env={"TENSORBOARD_LOGGING_DIR": str(tmp_path / "tb" / "train" / "round_1")})
    spec = TrainSpec(init_model=str(tmp_path / "init"), output_dir=str(tmp_path / "out"),
                     examples=seed_examples(recipe)[:8], max_steps=1, batch_size=8, report=report)
    with report_env(report):
        trainer = build_trainer(spec, tmp_path / "out", progress=False)  # built, not trained
    assert trainer.args.report_to == ["tensorboard"] and trainer.args.run_name == "round_1"
    (guarded,) = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, GuardedCallback)]
    assert isinstance(guarded.inner, TensorBoardCallback)
    assert guarded.inner.logging_dir == str(tmp_path / "tb" / "train" / "round_1")
    assert "TENSORBOARD_LOGGING_DIR" not in os.environ
