"""Submitting `star run` as a Ray job, with readable, deterministic submission ids.

A run is named, and the name is in the entrypoint, so a stopped or failed job
is continued by submitting the same run again: `star run --run-name NAME`
resumes from what the store holds. Each submission of a run gets the id
`star-<run>-<attempt>` (attempt 1, 2, ... counted from the cluster's job
list), and a run with a job still PENDING or RUNNING is refused: two drivers
on one run would race each other (the run lease in the store is the last
line of defence; this is the first).
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from star.config import StarConfig
from star.jobs.client import StarJobClient
from star.jobs.errors import JobError
from star.jobs.package import check_cluster_paths, job_env, runtime_env, stage_job

RUN_KEY = "star_run"  # job metadata key naming the run a job belongs to
ACTIVE = ("PENDING", "RUNNING")
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
# The driver waits on actors and writes the store; it needs no reserved CPU or GPU.
# Asking for none is also what keeps Ray's job manager placing it on the head node,
# the one node whose loss ends the cluster anyway, instead of a worker that may go.
DRIVER_CPUS = 0
DRIVER_GPUS = 0


@dataclass(frozen=True)
class Submitted:
    submission_id: str
    run_name: str
    entrypoint: str
    copied: dict[str, str]


def star_jobs(jobs: list[Any], run: str | None = None) -> list[Any]:
    """The jobs star submitted (those with a star_run in their metadata), of one run if given."""
    mine = [j for j in jobs if (j.metadata or {}).get(RUN_KEY)]
    if run is not None:
        mine = [j for j in mine if j.metadata[RUN_KEY] == run]
    return sorted(mine, key=lambda j: (j.start_time or 0, j.submission_id or ""))


def next_submission_id(run: str, jobs: list[Any]) -> str:
    """`star-<run>-<n>`: n is one more than any earlier attempt of the run (1 for the first)."""
    pattern = re.compile(rf"^star-{re.escape(run)}-(\d+)$")
    previous = star_jobs(jobs, run)
    numbers = [int(m.group(1)) for j in jobs if (m := pattern.match(j.submission_id or ""))]
    return f"star-{run}-{max([len(previous), *numbers]) + 1}"


def active_job(run: str, jobs: list[Any]) -> Any | None:
    for job in star_jobs(jobs, run):
        if str(job.status) in ACTIVE:
            return job
    return None


def entrypoint(config_file: str, run_name: str) -> str:
    # ray_address=auto: `star run` without an address starts a private local Ray;
    # inside a job it must join the cluster the job runs on.
    return shlex.join(["star", "run", config_file, "--run-name", run_name, "--set", "ray_address=auto"])


def submit(client: StarJobClient, config: StarConfig, *, staging: Path, source: str,
           submission_id: str | None = None, extra_env: dict[str, str] | None = None,
           database_url: str | None = None) -> Submitted:
    """Stage the config's files into `staging`, then submit `star run` on the cluster."""
    run = config.run_name
    if run is None:
        raise JobError("a job needs a run name (it is how a resubmission continues the run); pass --run-name")
    check_cluster_paths(config, config.database or database_url)
    jobs = client.call("listing jobs", client.ray.list_jobs)
    running = active_job(run, jobs)
    if running is not None:
        raise JobError(f"run {run!r} already has job {running.submission_id} ({running.status}); "
                       f"wait for it or stop it with `star jobs stop {running.submission_id}`")
    if submission_id is not None and any(j.submission_id == submission_id for j in jobs):
        raise JobError(_duplicate(submission_id))
    submission_id = submission_id or next_submission_id(run, jobs)
    staged = stage_job(config, staging, source=source)
    command = entrypoint(staged.config_file, run)
    try:
        client.call("submitting", client.ray.submit_job, entrypoint=command, submission_id=submission_id,
                    runtime_env=runtime_env(staged, job_env(extra=extra_env)), metadata={RUN_KEY: run},
                    entrypoint_num_cpus=DRIVER_CPUS, entrypoint_num_gpus=DRIVER_GPUS)
    except JobError as exc:
        if "already exists" in str(exc):  # submitted by someone else since we listed
            raise JobError(_duplicate(submission_id)) from None
        raise
    return Submitted(submission_id, run, command, staged.copied)


def follow(client: StarJobClient, submission_id: str, out: TextIO = sys.stdout, poll_s: float = 2.0) -> str:
    """Print the job's logs as they come until it ends; returns its final status."""
    try:
        asyncio.run(_tail(client, submission_id, out))
    except Exception as exc:  # noqa: BLE001 - a dropped log stream must not lose the job's result
        out.write(f"\n(log stream ended: {type(exc).__name__}; waiting for the job to finish)\n")
    while True:
        status = str(client.call("reading the job's status", client.ray.get_job_status, submission_id))
        if status in TERMINAL:
            return status
        time.sleep(poll_s)


async def _tail(client: StarJobClient, submission_id: str, out: TextIO) -> None:
    async for chunk in client.ray.tail_job_logs(submission_id):
        out.write(chunk)
        out.flush()


def _duplicate(submission_id: str) -> str:
    return (f"the cluster already has a job with submission id {submission_id!r}; "
            "pass another --submission-id, or none for star's own")
