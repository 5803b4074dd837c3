"""Tasks: loaders, prompts, hints. `build_task(config)` is the one entry point."""

from __future__ import annotations

from star.tasks.base import Problem, Task, content_hash

__all__ = ["Problem", "Task", "content_hash"]
