"""What `star submit --wait` prints when a job did not succeed: the job's last log lines and,
for the failures a new cluster typically has, the fix.

Following a job's log can show nothing at all: a job whose entrypoint fails at once (no `star`
on the cluster's PATH) may end before the log stream is attached. So the log is read again
when the job has ended, and its tail printed under the job's status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from star.jobs.errors import JobError

#: log lines shown under a failed job's status
TAIL_LINES = 20
#: /bin/sh's exit status for a command it cannot find
COMMAND_NOT_FOUND = 127
_MISSING_STAR = re.compile(r"(^|\W)star: (\d+: )?(command )?not found|No such file or directory: '?star'?",
                           re.MULTILINE)

MISSING_STAR_FIX = (
    "the cluster has no `star` command where Ray runs job drivers (the job's entrypoint is `star run ...`, run "
    "by /bin/sh on the head with the PATH that `ray start` had); install star in the cluster's environment "
    "(`pip install -e 'star[gpu]'` on every node, as ray_cluster.yaml's setup_commands do), or start Ray from "
    "the environment that has it: `source .venv/bin/activate` (or PATH=$PWD/.venv/bin:$PATH) before "
    "`ray start`; a head started as `.venv/bin/ray start --head` does not put .venv/bin on the PATH")


@dataclass(frozen=True)
class JobEnd:
    """A job's end as the job server reports it."""

    status: str
    message: str | None
    exit_code: int | None
    logs: str


def last_lines(logs: str, count: int = TAIL_LINES) -> list[str]:
    """The last `count` non-blank lines of a log."""
    lines = [line.rstrip() for line in logs.splitlines() if line.strip()]
    return lines[-count:]


def missing_star(end: JobEnd) -> bool:
    """The entrypoint's shell found no `star` (exit 127 with a shell's 'not found', or the message says so)."""
    text = "\n".join(part for part in (end.logs, end.message or "") if part)
    return bool(_MISSING_STAR.search(text)) or (end.exit_code == COMMAND_NOT_FOUND and "star" in text)


def failure_report(end: JobEnd, submission_id: str) -> list[str]:
    """Lines to print under a job that did not succeed: its status message, its log's tail, the fix
    when the failure is one star recognises, and where the whole log is."""
    lines: list[str] = []
    if end.message:
        first = next((line.strip() for line in end.message.splitlines() if line.strip()), "")
        if first:
            lines.append(f"job {submission_id} {end.status.lower()}: {first}")
    tail = last_lines(end.logs)
    if tail:
        lines.append(f"last {len(tail)} lines of its log:")
        lines += [f"  {line}" for line in tail]
    else:
        lines.append("its log is empty")
    if missing_star(end):
        lines.append(f"fix: {MISSING_STAR_FIX}")
    lines.append(f"whole log: star jobs logs {submission_id}")
    return lines


def read_failure(client: Any, submission_id: str, status: str) -> list[str]:
    """`failure_report` for a job that has ended, read from the job server through `client`
    (a StarJobClient); one line saying why when the server cannot be read."""
    try:
        info = client.call("reading the job's status", client.ray.get_job_info, submission_id)
        logs = client.call("reading logs", client.ray.get_job_logs, submission_id)
    except JobError as exc:
        return [f"(could not read the job's log: {exc})"]
    return failure_report(JobEnd(status, info.message, info.driver_exit_code, logs or ""), submission_id)
