"""`star submit` and `star jobs`: runs as Ray jobs on a cluster, through Ray's Jobs API.

Every command talks to the head's job server (`--address http://HEAD:8265`,
default $RAY_ADDRESS) and sends the cluster's auth token when one is found
(RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token). The work is done
by plain functions in star/jobs/.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

_ADDRESS_HELP = "The head's job server, e.g. http://HEAD:8265 (default: $RAY_ADDRESS)."


def _address_option(func):  # type: ignore[no-untyped-def]
    return click.option("--address", metavar="URL", help=_ADDRESS_HELP)(func)


@click.command("submit")
@click.argument("config_path", metavar="[CONFIG]", required=False, type=click.Path(path_type=Path))
@_address_option
@click.option("--run-name", help="Name of the run (default: a timestamp); submitting it again continues it.")
@click.option("--rounds", type=int, help="Number of STaR rounds (overrides `rounds`).")
@click.option("--db", "database", metavar="URL", help="Store URL for the job (overrides `database`; "
              "default: $STAR_DATABASE_URL, which is passed on to the job).")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Override any config field, e.g. --set sampling.temperature=0.7 (YAML value).")
@click.option("--env", "envs", multiple=True, metavar="NAME=VALUE",
              help="Extra environment variable for the job, e.g. --env HF_HOME=/mnt/shared/hf.")
@click.option("--submission-id", metavar="ID", help="Ray submission id (default: star-<run>-<attempt>).")
@click.option("--wait", is_flag=True, help="Follow the job's logs; exit 0 if it succeeds, 1 if it fails or is stopped.")
def submit_command(config_path: Path | None, address: str | None, run_name: str | None, rounds: int | None,
                   database: str | None, sets: tuple[str, ...], envs: tuple[str, ...],
                   submission_id: str | None, wait: bool) -> None:
    """Submit `star run CONFIG` to a Ray cluster as a job; the config is checked here first."""
    import os

    from star.cli.options import parse_sets
    from star.config import load_config
    from star.errors import ConfigError
    from star.jobs.client import connect
    from star.jobs.package import check_cluster_paths
    from star.jobs.submit import submit

    overrides = parse_sets(sets)
    extra_env = _parse_env(envs)
    for field, value in (("rounds", rounds), ("run_name", run_name), ("database", database)):
        if value is not None:
            overrides[field] = value
    config = load_config(config_path, overrides)  # a bad value exits 2 before anything is sent
    if config.run_name is None:
        from star.run.driver import default_run_name

        config = load_config(config_path, {**overrides, "run_name": default_run_name()})
    if "ray_address" in overrides:
        raise ConfigError("--set ray_address is not for jobs: a job always joins the cluster it runs on")
    database_url = os.environ.get("STAR_DATABASE_URL")
    check_cluster_paths(config, config.database or database_url)  # still offline: nothing sent yet
    from star.run.preflight import memory_warnings_for

    for warning in memory_warnings_for(config, config.model):  # an estimate: warned about, not refused
        click.echo(f"warning: {warning}", err=True)
    client = connect(address)
    source = str(config_path) if config_path else "the embedded default"
    with tempfile.TemporaryDirectory(prefix="star-job-") as staging:
        job = submit(client, config, staging=Path(staging), source=source, submission_id=submission_id,
                     extra_env=extra_env, database_url=database_url)
    click.echo(f"submitted {job.submission_id} (run {job.run_name}) to {client.address}")
    for field, relative in job.copied.items():
        click.echo(f"  {field} travels with the job as {relative}")
    if not wait:
        click.echo(f"follow it with `star jobs logs {job.submission_id} --follow`; "
                   f"stop it with `star jobs stop {job.submission_id}`")
        return
    _wait(client, job.submission_id)


def _wait(client, submission_id: str) -> None:  # type: ignore[no-untyped-def]
    from star.jobs.submit import follow

    try:
        status = follow(client, submission_id)
    except KeyboardInterrupt:
        click.echo(f"\nstopped following; {submission_id} keeps running "
                   f"(`star jobs stop {submission_id}` stops it)", err=True)
        sys.exit(130)
    click.echo(f"job {submission_id}: {status}", err=True)
    if status == "FAILED":  # the log stream may have shown nothing of why: read it again
        from star.jobs.failure import read_failure

        for line in read_failure(client, submission_id, status):
            click.echo(line, err=True)
    sys.exit(0 if status == "SUCCEEDED" else 1)


def _parse_env(envs: tuple[str, ...]) -> dict[str, str]:
    from star.errors import ConfigError

    parsed = {}
    for item in envs:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--env {item!r} needs NAME=VALUE, e.g. --env HF_HOME=/mnt/shared/hf")
        parsed[name.strip()] = value
    return parsed


@click.group("jobs")
def jobs_group() -> None:
    """The star runs submitted to a Ray cluster: list, status, logs, stop."""


@jobs_group.command("list")
@_address_option
@click.option("--db", "database", metavar="URL",
              help="Store to read each run's round and phase from (default: $STAR_DATABASE_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(address: str | None, database: str | None, as_json: bool) -> None:
    """Star jobs on the cluster: id, run, Ray status, the run's round and phase, start and end."""
    import os

    from star.jobs.client import connect
    from star.jobs.listing import job_rows, run_progress
    from star.jobs.submit import RUN_KEY, star_jobs

    client = connect(address)
    jobs = client.call("listing jobs", client.ray.list_jobs)
    runs = {job.metadata[RUN_KEY] for job in star_jobs(jobs)}
    rows = job_rows(jobs, run_progress(database or os.environ.get("STAR_DATABASE_URL"), runs))
    if as_json:
        click.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    _table(["submission id", "run", "status", "round", "phase", "start", "end"],
           [[r.submission_id, r.run, r.status, r.round, r.phase, r.start, r.end] for r in rows],
           empty=f"no star jobs on {client.address}")


@jobs_group.command("status")
@click.argument("job")
@_address_option
@click.option("--db", "database", metavar="URL", help="Store to read the run's round and phase from.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_command(job: str, address: str | None, database: str | None, as_json: bool) -> None:
    """One job: its Ray status and message, and its run's round and phase."""
    import os

    from star.jobs.client import connect
    from star.jobs.listing import job_rows, run_progress
    from star.jobs.submit import RUN_KEY

    client = connect(address)
    info = _job_info(client, job)
    run = (info.metadata or {}).get(RUN_KEY)
    progress = run_progress(database or os.environ.get("STAR_DATABASE_URL"), {run} if run else set())
    rows = job_rows([info], progress)
    row = rows[0].as_dict() if rows else {"submission_id": info.submission_id, "run": None,
                                          "status": str(info.status), "message": info.message}
    if as_json:
        click.echo(json.dumps(row, indent=2))
        return
    for key, value in row.items():
        click.echo(f"{key:>14}: {'-' if value is None else value}")


@jobs_group.command("logs")
@click.argument("job")
@_address_option
@click.option("--follow", is_flag=True, help="Keep printing until the job ends.")
def logs_command(job: str, address: str | None, follow: bool) -> None:
    """The job's driver output (`star run`'s progress and round table)."""
    from star.jobs.client import connect
    from star.jobs.submit import follow as follow_job

    client = connect(address)
    _job_info(client, job)
    if follow:
        status = follow_job(client, job)
        click.echo(f"job {job}: {status}", err=True)
        return
    click.echo(client.call("reading logs", client.ray.get_job_logs, job), nl=False)


@jobs_group.command("stop")
@click.argument("job")
@_address_option
def stop_command(job: str, address: str | None) -> None:
    """Stop the job; its run keeps what it stored, and `star submit` with the same run name continues it."""
    from star.jobs.client import connect
    from star.jobs.submit import RUN_KEY

    client = connect(address)
    info = _job_info(client, job)
    stopped = client.call("stopping the job", client.ray.stop_job, job)
    run = (info.metadata or {}).get(RUN_KEY)
    if not stopped:
        click.echo(f"job {job} had already ended ({info.status})")
        return
    resume = f"; continue the run with `star submit CONFIG --run-name {run}`" if run else ""
    click.echo(f"stopping job {job}{resume}")


def _job_info(client, job: str):  # type: ignore[no-untyped-def]
    from star.jobs.errors import JobError

    try:
        return client.call("looking up the job", client.ray.get_job_info, job)
    except JobError as exc:
        if "does not exist" in str(exc) or "404" in str(exc):
            raise JobError(f"no job {job!r} on {client.address}; `star jobs list` lists them") from None
        raise


def _table(columns: list[str], rows: list[list[object]], *, empty: str) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        click.echo(empty)
        return
    table = Table(*columns, highlight=False)
    for row in rows:
        table.add_row(*("-" if v is None else str(v) for v in row))
    Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200).print(table)


COMMANDS: list[click.Command] = [submit_command, jobs_group]
