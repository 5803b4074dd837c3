"""A logged message stays on one line where output is not a terminal (a Ray job's log, a file).

Rich wraps at the console's width (80 columns when it cannot ask a terminal), which split
"training again from scratch" across two lines of a job log and hid it from grep.
"""

from __future__ import annotations

import io

from rich.console import Console

from star.progress import Progress


def test_a_long_message_is_one_line_in_a_non_terminal_log() -> None:
    out = io.StringIO()
    message = ("round 3: the trainer actor died (The actor 6f287cf8b77cab57ed7abef005000000 is unavailable: "
               "The actor is temporarily unavailable: IOError: The actor was restarted.); training again from scratch")
    Progress(Console(file=out, width=80)).log(message)
    assert out.getvalue() == message + "\n"


def test_a_disabled_progress_logs_nothing() -> None:
    out = io.StringIO()
    Progress(Console(file=out, width=80), enabled=False).log("round 1: done")
    assert out.getvalue() == ""


def test_a_warning_is_said_with_progress_off_and_on_one_line() -> None:
    out = io.StringIO()
    message = ("tracking (wandb) could not log round 2 (ConnectionError: the W&B server at https://wandb.example.com "
               "did not answer); the run goes on without it")
    Progress(Console(file=out, width=80), enabled=False).warn(message)
    assert out.getvalue() == message + "\n"
