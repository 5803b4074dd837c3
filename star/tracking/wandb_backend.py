"""Weights & Biases: one W&B run per STaR run (step = round), the trainer's runs in the same group.

`mode: offline` (the default) writes to disk only and needs no network or account;
`wandb sync <dir>/wandb/offline-run-*` uploads later. A resumed STaR run continues
its W&B run (the id is derived from the run name).
"""

from __future__ import annotations

import re
from pathlib import Path

from star.config.tracking import WandbConfig
from star.tracking.base import Tracker
from star.training.spec import TrainerReport

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


class WandbTracker(Tracker):
    def __init__(self, config: WandbConfig, *, run_name: str, storage: Path) -> None:
        import wandb

        self.config, self.run_name = config, run_name
        self.dir = (Path(config.dir).expanduser() if config.dir else storage).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=config.project, entity=config.entity, mode=config.mode, dir=str(self.dir),
            name=run_name, group=run_name, job_type="rounds", id=_UNSAFE_ID.sub("-", run_name),
            resume="allow", settings=wandb.Settings(silent=True, console="off"),
        )
        # round metrics plot against the round, not W&B's own step counter
        self.run.define_metric("round")
        self.run.define_metric("*", step_metric="round")

    def log_params(self, params: dict[str, str]) -> None:
        self.run.config.update(params, allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.run.log({**{k: float(v) for k, v in metrics.items()}, "round": step})

    def trainer_report(self, round_index: int) -> TrainerReport:
        env = {"WANDB_PROJECT": self.config.project, "WANDB_MODE": self.config.mode, "WANDB_DIR": str(self.dir),
               "WANDB_RUN_GROUP": self.run_name, "WANDB_JOB_TYPE": "train", "WANDB_SILENT": "true"}
        if self.config.entity:
            env["WANDB_ENTITY"] = self.config.entity
        return TrainerReport(("wandb",), run_name=f"{self.run_name}-round-{round_index}-train", env=env)

    def close(self, *, failed: bool = False) -> None:
        self.run.finish(exit_code=1 if failed else 0)
