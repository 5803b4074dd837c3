"""`star schedule ...` and `star scheduler` from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

import db.schedules as sched_store
from star.cli import cli, register_commands
from star.schedule.daemon import serve

register_commands()
REPO = Path(__file__).resolve().parents[2]
HISTORY_KEYS = {"schedule", "run", "slot", "status", "started_at", "finished_at", "rounds", "job_id", "error"}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def star(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "nightly.yaml"
    path.write_text(yaml.safe_dump({"rounds": 1, "task": {"name": "arithmetic", "max_digits": 2}}))
    return path


@pytest.mark.parametrize("args,needle", [
    (["--cron", "0 2 * *"], "five fields"),
    (["--cron", "0 25 * * *"], "not a valid cron"),
    (["--cron", "0 2 * * *", "--timezone", "Europe/Atlantis"], "time zone"),
    (["--cron", "0 2 * * *", "--set", "sampling.temperature=9"], "sampling.temperature"),
])
def test_add_validates_now_and_exits_2(store_url: str, factory: Any, config_file: Path, args: list[str],
                                      needle: str) -> None:
    result = star("schedule", "add", "nightly", str(config_file), *args, "--db", store_url)
    assert result.exit_code == 2 and needle in result.stderr
    assert star("schedule", "list", "--json", "--db", store_url).stdout.strip() == "[]"


def test_schedule_commands_print_json(store_url: str, config_file: Path, factory: Any) -> None:
    added = star("schedule", "add", "nightly", str(config_file), "--cron", "0 2 * * *", "--db", store_url, "--json")
    assert added.exit_code == 0, added.output
    shown = json.loads(added.stdout)
    assert shown["schedule"] == "nightly" and shown["run"] == "nightly" and shown["rounds_per_firing"] == 1
    assert shown["next_fire"].endswith("02:00:00+00:00")
    assert json.loads(star("schedule", "pause", "nightly", "--db", store_url, "--json").stdout) == {
        "schedule": "nightly", "paused": True}
    assert json.loads(star("schedule", "resume", "nightly", "--db", store_url, "--json").stdout) == {
        "schedule": "nightly", "paused": False}
    assert json.loads(star("schedule", "remove", "nightly", "--db", store_url, "--json").stdout) == {
        "schedule": "nightly", "removed": True}


def test_add_list_pause_history_remove(store_url: str, config_file: Path, factory: Any) -> None:
    added = star("schedule", "add", "nightly", str(config_file), "--cron", "0 2 * * *", "--timezone",
                 "Europe/Berlin", "--rounds-per-firing", "2", "--db", store_url)
    assert added.exit_code == 0, added.output
    again = star("schedule", "add", "nightly", str(config_file), "--cron", "0 2 * * *", "--db", store_url)
    assert again.exit_code == 2 and "exists" in again.stderr
    [item] = json.loads(star("schedule", "list", "--json", "--db", store_url).stdout)
    assert (item["name"], item["run"], item["rounds_per_firing"], item["paused"]) == ("nightly", "nightly", 2, False)
    assert item["next_fire"].endswith(("T02:00:00+01:00", "T02:00:00+02:00"))  # in the schedule's zone
    with factory() as session:
        stored = sched_store.get_schedule(session, "nightly")
        assert stored.config["task"]["max_digits"] == 2 and "database" not in stored.config
    assert star("schedule", "pause", "nightly", "--db", store_url).exit_code == 0
    assert json.loads(star("schedule", "list", "--json", "--db", store_url).stdout)[0]["next_fire"] is None
    # A paused schedule's slot is recorded as skipped by a tick; the tick itself succeeds.
    with factory.begin() as session:
        sched_store.get_schedule(session, "nightly").created_at = utc(2027, 1, 1, 12)
    tick = star("schedule", "tick", "--now", "2027-01-02T03:00:00+01:00", "--db", store_url)
    assert tick.exit_code == 0, tick.output
    [firing] = json.loads(star("schedule", "history", "nightly", "--json", "--db", store_url).stdout)
    assert HISTORY_KEYS <= firing.keys()
    assert (firing["slot"], firing["status"], firing["error"]) == \
           ("2027-01-02T01:00:00+00:00", "skipped", "schedule paused")
    table = star("schedule", "history", "--db", store_url)
    assert "skipped" in table.stdout and "schedule paused" in table.stdout
    assert star("schedule", "resume", "nightly", "--db", store_url).exit_code == 0
    assert star("schedule", "remove", "nightly", "--db", store_url).exit_code == 0
    assert star("schedule", "history", "--json", "--db", store_url).stdout.strip() == "[]"
    missing = star("schedule", "pause", "nightly", "--db", store_url)
    assert missing.exit_code == 2 and "no schedule named 'nightly'" in missing.stderr


def test_a_config_naming_another_database_is_refused(store_url: str, factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump({"database": f"sqlite:///{tmp_path}/other.db"}))
    result = star("schedule", "add", "nightly", str(path), "--cron", "0 2 * * *", "--db", store_url)
    assert result.exit_code == 2 and "one store holds both" in result.stderr


def test_tick_with_a_bad_now_exits_2(store_url: str, factory: Any) -> None:
    result = star("schedule", "tick", "--now", "yesterday", "--db", store_url)
    assert result.exit_code == 2 and "ISO 8601" in result.stderr


def test_run_now_fires_outside_the_slots_and_refuses_an_overlap(harness: Any) -> None:
    from db.errors import StoreError

    harness.add(created=utc(2027, 1, 1, 12))
    harness.fake_args = ["--sleep", "2"]
    scheduler = harness.scheduler(utc(2027, 1, 1, 15, 30))
    claim = scheduler.run_now("nightly")
    runner = threading.Thread(target=scheduler.execute, args=(claim,))
    runner.start()
    with pytest.raises(StoreError, match="has a firing running"):
        harness.scheduler(utc(2027, 1, 1, 15, 31)).run_now("nightly")
    runner.join()
    [firing] = harness.history()
    assert (firing["manual"], firing["status"], firing["rounds"]) == (True, "succeeded", [0, 1])
    harness.tick(utc(2027, 1, 2, 2, 1))  # the night's cron slot still fires, and continues the run
    assert [c["rounds"] for c in harness.invocations()] == [1, 2]


def test_daemon_stop_interrupts_the_firing_and_the_next_start_retries_it(harness: Any) -> None:
    harness.add(created=utc(2027, 1, 1, 12))
    harness.fake_args = ["--sleep", "60"]
    scheduler = harness.scheduler(utc(2027, 1, 2, 2, 1), lease_s=1.0)
    daemon = threading.Thread(target=serve, args=(scheduler,), kwargs={"poll_s": 0.2})
    daemon.start()
    deadline = time.monotonic() + 30
    while not harness.invocations():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    scheduler.stop.set()  # what SIGTERM does
    daemon.join(timeout=120)  # a bound against a hang, not a timing: the firing below says it was interrupted
    assert not daemon.is_alive()
    firing = harness.history()[0]
    assert firing["status"] == "failed" and firing["error"].startswith("interrupted")
    harness.fake_args = []
    harness.tick(utc(2027, 1, 2, 2, 2))  # the next scheduler retries the slot at once
    firing = harness.history()[0]
    assert (firing["status"], firing["attempts"]) == ("succeeded", 2)


def test_scheduler_daemon_logs_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "star", "scheduler", "--db", url, "--poll-seconds", "0.2"],
                            env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines = []
    deadline = time.monotonic() + 60
    while not any("scheduler started" in line for line in lines):
        assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
        lines.append(proc.stderr.readline())
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0
    assert "received SIGTERM" in out and "scheduler stopped" in out


def test_two_daemons_on_one_store_fire_a_slot_once(harness: Any) -> None:
    harness.add(created=utc(2027, 1, 1, 12))
    daemons = [harness.scheduler(utc(2027, 1, 2, 2, 1)) for _ in range(2)]
    threads = [threading.Thread(target=serve, args=(d,), kwargs={"poll_s": 0.1}) for d in daemons]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while not harness.history() or harness.history()[0]["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1.0)  # both keep polling the same, already fired slot
    for daemon in daemons:
        daemon.stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert [(f["slot"], f["status"]) for f in harness.history()] == [("2027-01-02T02:00:00+00:00", "succeeded")]
    assert sum(len(d.finished) for d in daemons) == 1 and len(harness.invocations()) == 1
