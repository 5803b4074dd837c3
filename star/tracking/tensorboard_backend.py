"""TensorBoard: event files under <log_dir>/<run>; the trainer of round R writes <log_dir>/<run>/train/round_R.

TensorBoard lists each folder of event files as a run, so the round curves
(`<run>`) and each round's loss curve (`<run>/train/round_R`) show side by side.
Uses torch's SummaryWriter (the `tensorboard` package provides its file format).
"""

from __future__ import annotations

from pathlib import Path

from star.config.tracking import TensorboardConfig
from star.tracking.base import Tracker
from star.training.spec import TrainerReport


def run_log_dir(config: TensorboardConfig, *, run_name: str, storage: Path) -> Path:
    """Absolute, so a trainer on another node or in another working directory writes the same folder."""
    root = Path(config.log_dir).expanduser() if config.log_dir else storage / "tensorboard"
    return root.resolve() / run_name


class TensorboardTracker(Tracker):
    def __init__(self, config: TensorboardConfig, *, run_name: str, storage: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = run_log_dir(config, run_name=run_name, storage=storage)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def log_params(self, params: dict[str, str]) -> None:
        # a Markdown table: TensorBoard's text tab renders it
        rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(params.items()))
        self.writer.add_text("config", "| field | value |\n| --- | --- |\n" + rows)
        self.writer.flush()

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for key, value in sorted(metrics.items()):
            self.writer.add_scalar(key, float(value), global_step=step)
        self.writer.flush()  # a round is minutes apart: make it visible now

    def trainer_report(self, round_index: int) -> TrainerReport:
        train_dir = self.log_dir / "train" / f"round_{round_index}"
        return TrainerReport(("tensorboard",), run_name=f"round_{round_index}",
                             env={"TENSORBOARD_LOGGING_DIR": str(train_dir)})

    def close(self, *, failed: bool = False) -> None:
        self.writer.close()
