"""Tasks: loaders, prompts, hints. `build_task(config)` is the one entry point."""

from __future__ import annotations

from star.config.tasks import (
    ArithmeticTaskConfig,
    GSM8KTaskConfig,
    MathTaskConfig,
    MultipleChoiceTaskConfig,
    TaskConfig,
    UserDatasetTaskConfig,
)
from star.tasks.base import Problem, Task, content_hash

__all__ = ["Problem", "Task", "TaskConfig", "build_task", "content_hash"]


def build_task(config: TaskConfig, *, skip_invalid: bool = False) -> Task:
    """The task a config names, fully loaded and validated.

    Dataset tasks read and check every row here, so bad data raises a
    DataError (file, row, field) before any generation starts; with
    `skip_invalid` such rows are dropped and counted in `task.skipped_invalid`.
    Task modules are imported only when chosen, so `star --help` stays fast.
    """
    if isinstance(config, ArithmeticTaskConfig):
        from star.tasks.arithmetic import ArithmeticTask

        return ArithmeticTask(config)
    if isinstance(config, GSM8KTaskConfig):
        from star.tasks.gsm8k import GSM8KTask

        return GSM8KTask(config, skip_invalid=skip_invalid)
    if isinstance(config, MathTaskConfig):
        from star.tasks.math_task import MathTask

        return MathTask(config, skip_invalid=skip_invalid)
    if isinstance(config, MultipleChoiceTaskConfig):
        from star.tasks.multiple_choice import MultipleChoiceTask

        return MultipleChoiceTask(config, skip_invalid=skip_invalid)
    if isinstance(config, UserDatasetTaskConfig):
        from star.tasks.user_dataset import UserDatasetTask

        return UserDatasetTask(config, skip_invalid=skip_invalid)
    raise TypeError(f"no task for config type {type(config).__name__}")
