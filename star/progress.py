"""Progress display for long work: rich bars on a terminal, plain lines otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, console: Console | None = None, enabled: bool = True) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled

    def log(self, message: str) -> None:
        """One message, one line: job logs are grepped, so it is not wrapped at the console's width."""
        if self.enabled:
            self.console.print(message, soft_wrap=True)

    def warn(self, message: str) -> None:
        """A warning: said even with progress off (something needs the user's attention), on one line."""
        self.console.print(message, soft_wrap=True)

    @contextmanager
    def bar(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """A progress bar; yields `advance(n)`."""
        if not self.enabled or total == 0:
            yield lambda n: None
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with RichProgress(*columns, console=self.console, transient=False) as progress:
            task_id = progress.add_task(description, total=total)
            yield lambda n: progress.advance(task_id, n)

    @contextmanager
    def spinner(self, description: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with RichProgress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                          console=self.console) as progress:
            progress.add_task(description, total=None)
            yield
