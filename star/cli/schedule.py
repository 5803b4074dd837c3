"""`star schedule ...` and `star scheduler`: nightly iterations kept in the store.

docs/scheduling.md explains the three ways to drive them (the daemon, an
external cron calling `tick`, a KubeRay RayCronJob) and the guarantees.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from star.cli.common import db_option, json_option, print_json, print_table

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"


def _sessions(db_url: str | None, *, create: bool = False):
    from db.engine import open_store, session_factory
    from db.urls import default_database_url

    url = db_url or default_database_url()
    return url, session_factory(open_store(url, create=create))


def _logging() -> None:
    """Scheduler decisions on stderr (journald / kubectl logs pick them up), nobody else's."""
    logger = logging.getLogger("star.scheduler")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def parse_now(value: str | None) -> datetime | None:
    from star.errors import ConfigError
    from star.schedule.cron import as_utc

    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise ConfigError(f"--now {value!r} is not an ISO 8601 time; e.g. 2027-03-28T02:00:00+02:00") from None


@click.group("schedule")
def schedule_group() -> None:
    """Nightly (cron) iterations of a run: add, list, pause, run, and their history."""


@schedule_group.command("add")
@click.argument("name")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("--cron", "cron_expr", required=True, help="Five-field cron expression, e.g. '0 2 * * *'.")
@click.option("--timezone", "tz", default="UTC", show_default=True, help="IANA time zone of the cron expression.")
@click.option("--rounds-per-firing", type=click.IntRange(1, 100), default=1, show_default=True,
              help="STaR rounds each firing adds to the run.")
@click.option("--address", help="Ray dashboard address (http://HEAD:8265): submit each firing as a Ray job.")
@click.option("--max-retries", type=click.IntRange(0, 20), default=2, show_default=True,
              help="Retries of a failed firing (with exponential backoff).")
@click.option("--retry-backoff", type=click.IntRange(1), default=300, show_default=True,
              help="Seconds before the first retry; doubled for each further one.")
@click.option("--grace-hours", type=click.FloatRange(0, min_open=True), default=12.0, show_default=True,
              help="How late a missed slot may still fire when the scheduler comes back.")
@click.option("--notify", metavar="URL", help="POST a JSON summary of each finished firing here.")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Override a config field (YAML value).")
@db_option
@json_option
def add_cmd(name: str, config_path: Path, cron_expr: str, tz: str, rounds_per_firing: int, address: str | None,
            max_retries: int, retry_backoff: int, grace_hours: float, notify: str | None, sets: tuple[str, ...],
            db_url: str | None, as_json: bool) -> None:
    """Validate CONFIG and the cron expression now, and store the schedule NAME."""
    import re

    import db.schedules as sched_store
    from star.config import load_config
    from star.errors import ConfigError
    from star.schedule import cron

    if not re.fullmatch(NAME_PATTERN, name):
        raise ConfigError(f"schedule name {name!r} must be 1-100 letters, digits, '_', '.' or '-'")
    cron.trigger(cron_expr, tz)  # a bad expression or zone fails here, before anything is stored
    config = load_config(config_path, _overrides(sets))
    _require_fixed_held_out(config)
    run_name = config.run_name or name
    from db.urls import default_database_url

    url = db_url or default_database_url()
    if config.database is not None and config.database != url:
        raise ConfigError(f"config sets database {config.database!r} but the schedule is stored in {url}; "
                          "drop `database` from the config or pass it as --db (one store holds both)")
    url, sessions = _sessions(url, create=True)
    stored = config.model_dump(mode="json", exclude={"run_name", "database"})
    with sessions.begin() as session:
        sched_store.add_schedule(session, name=name, run_name=run_name, config=stored, cron=cron_expr, timezone=tz,
                                 rounds_per_firing=rounds_per_firing, address=address, max_retries=max_retries,
                                 retry_backoff_s=retry_backoff, grace_s=int(grace_hours * 3600), notify=notify)
    upcoming = cron.next_slot(cron.trigger(cron_expr, tz), _now())
    if as_json:
        print_json({"schedule": name, "run": run_name, "rounds_per_firing": rounds_per_firing,
                    "next_fire": cron.local_iso(upcoming, tz)})
        return
    click.echo(f"schedule {name}: run {run_name}, {rounds_per_firing} round(s) per firing, "
               f"next {cron.local_iso(upcoming, tz)}")


def _require_fixed_held_out(config: Any) -> None:
    """Nightly rounds are compared on one held-out set, so it must not move as the data grows.

    A held_out_fraction split ranks rows by content hash and holds out the top
    fraction: rows added later take some of those places, so earlier training
    rows would move into the held-out set. A separate eval file or split does
    not depend on the training pool.
    """
    from star.config.tasks import DatasetTaskConfig
    from star.errors import ConfigError

    task = config.task
    if isinstance(task, DatasetTaskConfig) and task.held_out_fraction is not None:
        raise ConfigError(
            "task.held_out_fraction: a scheduled run re-reads its data every night, and a fractional split "
            "would move rows between the pool and the held-out set as rows are added; set task.eval_path "
            "(or task.eval_split) to a fixed held-out file so rounds stay comparable")


def _overrides(sets: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    from star.errors import ConfigError

    overrides: dict[str, Any] = {}
    for item in sets:
        field, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r} needs FIELD=VALUE, e.g. --set sampling.temperature=0.7")
        overrides[field.strip()] = yaml.safe_load(value)
    return overrides


def _now() -> datetime:
    from db.models import utcnow

    return utcnow()


@schedule_group.command("list")
@json_option
@db_option
def list_cmd(as_json: bool, db_url: str | None) -> None:
    """Schedules with their next fire time (in their time zone) and last firing."""
    import db.schedules as sched_store
    from star.schedule import cron

    _, sessions = _sessions(db_url)
    now = _now()
    items = []
    with sessions() as session:
        for s in sched_store.list_schedules(session):
            last = sched_store.latest_firing(session, s.id)
            upcoming = None if s.paused else cron.next_slot(cron.trigger(s.cron, s.timezone), now)
            items.append({"name": s.name, "run": s.run_name, "cron": s.cron, "timezone": s.timezone,
                          "paused": s.paused, "rounds_per_firing": s.rounds_per_firing, "address": s.address,
                          "next_fire": cron.local_iso(upcoming, s.timezone),
                          "last_slot": cron.local_iso(last.slot if last else None, s.timezone),
                          "last_status": last.status if last else None})
    if as_json:
        print_json(items)
        return
    rows = [[i["name"], i["run"], f"{i['cron']} ({i['timezone']})", "paused" if i["paused"] else i["next_fire"],
             i["last_slot"], i["last_status"]] for i in items]
    print_table(["schedule", "run", "cron", "next", "last slot", "last status"], rows, empty="no schedules yet")


def _set_paused(name: str, db_url: str | None, paused: bool, as_json: bool) -> None:
    import db.schedules as sched_store

    _, sessions = _sessions(db_url)
    with sessions.begin() as session:
        sched_store.set_paused(session, name, paused)
    if as_json:
        print_json({"schedule": name, "paused": paused})
        return
    click.echo(f"schedule {name}: {'paused' if paused else 'active'}")


@schedule_group.command("pause")
@click.argument("name")
@db_option
@json_option
def pause_cmd(name: str, db_url: str | None, as_json: bool) -> None:
    """Stop firing NAME (its slots are recorded as skipped) until resumed."""
    _set_paused(name, db_url, True, as_json)


@schedule_group.command("resume")
@click.argument("name")
@db_option
@json_option
def resume_cmd(name: str, db_url: str | None, as_json: bool) -> None:
    """Fire NAME again from its next slot."""
    _set_paused(name, db_url, False, as_json)


@schedule_group.command("remove")
@click.argument("name")
@db_option
@json_option
def remove_cmd(name: str, db_url: str | None, as_json: bool) -> None:
    """Delete NAME and its firing history; its run and rounds stay in the store."""
    import db.schedules as sched_store

    _, sessions = _sessions(db_url)
    with sessions.begin() as session:
        sched_store.remove_schedule(session, name)
    if as_json:
        print_json({"schedule": name, "removed": True})
        return
    click.echo(f"schedule {name}: removed")


@schedule_group.command("history")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(1), default=None, help="Newest N firings only.")
@json_option
@db_option
def history_cmd(name: str | None, limit: int | None, as_json: bool, db_url: str | None) -> None:
    """One row per firing (fired, skipped, missed), newest slot first."""
    import db.schedules as sched_store

    _, sessions = _sessions(db_url)
    with sessions() as session:
        items = sched_store.firing_history(session, name, limit)
    if as_json:
        print_json(items)
        return
    rows = [[i["schedule"], i["slot"][:16] + "Z", i["status"], i["attempts"], ",".join(map(str, i["rounds"])) or None,
             i["job_id"], i["error"]] for i in items]
    print_table(["schedule", "slot (UTC)", "status", "tries", "rounds", "job", "error"], rows,
                 empty="no firings yet", clip_last=True)


def _scheduler(db_url: str | None, now: str | None, lease_seconds: float):
    import threading

    from db.models import utcnow
    from star.schedule.daemon import install_stop_signals
    from star.schedule.ticker import Scheduler, frozen_clock

    _logging()
    url, sessions = _sessions(db_url, create=True)  # a daemon may start before the first schedule
    start = parse_now(now)
    stop = threading.Event()
    install_stop_signals(stop)
    clock = frozen_clock(start) if start is not None else utcnow
    return Scheduler(sessions, url, clock=clock, lease_s=lease_seconds, stop=stop)


_lease_option = click.option("--lease-seconds", type=click.FloatRange(0.1), default=90.0, show_default=True,
                             help="A firing not renewed for this long counts as lost.")


@schedule_group.command("run-now")
@click.argument("name")
@_lease_option
@db_option
@json_option
def run_now_cmd(name: str, lease_seconds: float, db_url: str | None, as_json: bool) -> None:
    """Fire NAME now, outside its cron slots, and wait for the firing to end."""
    scheduler = _scheduler(db_url, None, lease_seconds)
    status = scheduler.execute(scheduler.run_now(name))
    if as_json:
        print_json({"fired": [{"schedule": name, "status": status}]})
    sys.exit(0 if status == "succeeded" else 1)


@schedule_group.command("tick")
@click.option("--now", help="Decide as if it were this ISO 8601 instant (tests, replaying a missed slot).")
@_lease_option
@db_option
@json_option
def tick_cmd(now: str | None, lease_seconds: float, db_url: str | None, as_json: bool) -> None:
    """One pass: fire every due schedule and return when those firings end (exit 1 if one failed)."""
    scheduler = _scheduler(db_url, now, lease_seconds)
    scheduler.tick(wait=True)
    if as_json:
        print_json({"fired": [{"schedule": name, "status": status} for name, status in scheduler.finished]})
    sys.exit(1 if any(status == "failed" for _, status in scheduler.finished) else 0)


@click.command("scheduler")
@click.option("--poll-seconds", type=click.FloatRange(0.1), default=30.0, show_default=True,
              help="Longest sleep between passes (it also wakes at each schedule's next slot).")
@_lease_option
@db_option
def scheduler_cmd(poll_seconds: float, lease_seconds: float, db_url: str | None) -> None:
    """Run the scheduler daemon until SIGTERM (see deploy/ for systemd and Kubernetes)."""
    from star.schedule.daemon import serve

    serve(_scheduler(db_url, None, lease_seconds), poll_s=poll_seconds)


COMMANDS: list[click.Command] = [schedule_group, scheduler_cmd]
