"""A run's life in the store: one driver, resume from the stored config, failures and SIGTERM recorded.

None of these start Ray: the lease, the config check and a failure before Ray
all happen first, which is the point (a refused `star run` costs nothing).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from db.engine import open_store, session_factory
from db.leases import Holder, acquire_lease, lease_info
from db.models import Round, Run, RunLease, utcnow
from db.store import get_or_create_run
from star.config import load_config
from star.run.driver import load_run_config
from star.run.resume import RESULT_FIELDS, result_differences

REPO = Path(__file__).resolve().parents[2]
OTHER = Holder("other-host", 4242, "raysubmit_abc")


def star(*args: str) -> Result:
    from star.cli import cli, register_commands

    register_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _seed_run(url: str, name: str, config: dict[str, Any], *, hold: bool = False) -> None:
    engine = open_store(url)
    with session_factory(engine).begin() as s:
        run = get_or_create_run(s, name, config=config, base_model="tiny")
        if hold:
            acquire_lease(s, run, OTHER, now=utcnow(), timeout_s=60)
    engine.dispose()


def _run_row(url: str, name: str) -> tuple[str, str | None, bool]:
    engine = open_store(url)
    with session_factory(engine)() as s:
        run = s.scalars(select(Run).where(Run.name == name)).one()
        result = run.status, run.error, lease_info(s, run) is not None
    engine.dispose()
    return result


def _default(url: str, name: str, **overrides: Any) -> dict[str, Any]:
    return load_config(None, {"run_name": name, "database": url, **overrides}).model_dump(mode="json")


def test_second_driver_is_refused_with_exit_2_naming_the_holder(tmp_path: Path) -> None:
    import ray

    ray.shutdown()  # an earlier test's Ray (ray_session starts it again when needed)
    url = f"sqlite:///{tmp_path}/star.db"
    _seed_run(url, "busy", _default(url, "busy"), hold=True)
    result = star("run", "--run-name", "busy", "--db", url, "--quiet")
    assert result.exit_code == 2
    assert "run 'busy' is already being run by pid 4242 on other-host (Ray job raysubmit_abc) since" in result.stderr
    assert "star run --resume busy --force" in result.stderr
    assert _run_row(url, "busy") == ("created", None, True)  # nothing touched
    assert not ray.is_initialized()


def test_resume_with_a_result_changing_config_is_refused_listing_the_fields(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    _seed_run(url, "r1", _default(url, "r1"))
    result = star("run", "--resume", "r1", "--db", url, "--quiet", "--rounds", "9",
                  "--set", "seed=7", "--set", "sampling.temperature=0.5", "--set", "checker.workers=3")
    assert result.exit_code == 2
    assert ("must match the stored config: sampling.temperature (0.8 -> 0.5), seed (0 -> 7); "
            "resume with `star run --resume r1`") in result.stderr
    assert "rounds" not in result.stderr.split("stored config:")[1].split(";")[0]
    # A config file for the same run name that changes the task is refused too.
    changed = _default(url, "r1")
    changed["task"]["max_digits"] = 3
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(changed))
    result = star("run", str(path), "--quiet")
    assert result.exit_code == 2 and "task.max_digits (5 -> 3)" in result.stderr
    assert _run_row(url, "r1") == ("created", None, False)


def test_result_fields_and_operational_fields() -> None:
    base = load_config(None)
    operational = load_config(None, {
        "rounds": 9, "run_name": "x", "database": "sqlite:///other.db", "storage": "/elsewhere",
        "ray_address": "auto", "generators.count": 4, "generators.gpus_per_generator": 1,
        "trainer.gpus": 1, "checker.workers": 8, "store.pool_size": 20, "lease.timeout_s": 300})
    assert result_differences(base, operational) == []
    changed = load_config(None, {"model": "Qwen/Qwen2.5-0.5B", "checker.timeout": 9, "checker.recheck_timeout": 60,
                                 "training.learning_rate": 0.5, "generators.max_model_len": 2048})
    assert result_differences(base, changed) == [
        "checker.recheck_timeout", "checker.timeout", "generators.max_model_len", "model", "training.learning_rate"]
    assert set(RESULT_FIELDS) >= {"task", "model", "seed", "sampling", "rationalization", "training",
                                  "evaluation", "accept"}


def _bad_gsm8k(tmp_path: Path) -> Path:
    train = tmp_path / "gsm8k-train.jsonl"
    rows = [{"question": f"Tom has {n} apples and buys {n} more. How many?", "answer": f"#### {2 * n}"}
            for n in range(1, 9)] + [{"question": "How many?", "answer": "It is three."}]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return train


def test_resume_without_config_uses_the_stored_one_and_a_failed_start_is_recorded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    train = _bad_gsm8k(tmp_path)
    stored = _default(url, "g1", model="example-org/never-loaded", rounds=2)
    stored["task"] = {"name": "gsm8k", "train_path": str(train), "held_out_fraction": 0.25, "shots": 1}
    _seed_run(url, "g1", stored)

    config = load_run_config("g1", url, {"rounds": 5})
    assert config.task.name == "gsm8k" and config.model == "example-org/never-loaded"
    assert config.rounds == 5 and config.database == url and config.run_name == "g1"

    # Without CONFIG, `star run --resume` runs the stored GSM8K task (not the
    # embedded arithmetic default) and fails on its bad row before Ray starts.
    result = star("run", "--resume", "g1", "--db", url, "--quiet")
    assert result.exit_code == 2
    assert f"{train}" in result.stderr and "no '####" in result.stderr
    status, error, leased = _run_row(url, "g1")
    assert status == "failed" and not leased
    assert str(train) in error and "no '####" in error and "\n" not in error
    runs = json.loads(star("runs", "--db", url, "--json").stdout)
    assert [(r["name"], r["status"], r["error"], r["driver"]) for r in runs] == [("g1", "failed", error, None)]
    table = star("runs", "--db", url)
    assert "failed" in table.stdout and "error" in table.stdout


def test_a_missing_model_path_fails_the_run_before_ray(tmp_path: Path) -> None:
    import ray

    ray.shutdown()  # an earlier test's Ray (ray_session starts it again when needed)
    url = f"sqlite:///{tmp_path}/star.db"
    result = star("run", "--run-name", "m1", "--db", url, "--quiet", "--set", f"model={tmp_path}/nope")
    assert result.exit_code == 2
    assert f"model {tmp_path}/nope does not exist; set `model` to a model folder or a hub name" in result.stderr
    assert _run_row(url, "m1") == ("failed", f"model {tmp_path}/nope does not exist; set `model` to a model "
                                   "folder or a hub name", False)
    assert not ray.is_initialized()


def test_error_summary_is_one_line_with_the_root_cause() -> None:
    from star.run.driver import error_summary

    class ActorDiedError(Exception):
        pass

    # The shape of Ray's message for an actor whose __init__ raised (colours included).
    ray_error = ActorDiedError(
        "The actor died because of an error raised in its creation task, \x1b[36mray::GeneratorActor.__init__()"
        "\x1b[39m (pid=1)\nTraceback (most recent call last):\n  File \"engine.py\", line 3, in load\n"
        "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig\n"
        "  Value error, model type `bogus` is not supported [type=value_error]\n"
        "    For further information visit https://errors.pydantic.dev/2.14/v/value_error")
    assert error_summary(ray_error) == (
        "ActorDiedError: The actor died because of an error raised in its creation task, "
        "ray::GeneratorActor.__init__() (pid=1) ... pydantic_core._pydantic_core.ValidationError: 1 validation "
        "error for ModelConfig Value error, model type `bogus` is not supported [type=value_error]")
    assert error_summary(MemoryError()) == "MemoryError"
    assert error_summary(ValueError("x" * 5000)).startswith("ValueError: xxx")
    assert len(error_summary(ValueError("x" * 5000))) == 1000


def test_the_lease_names_the_ray_job_a_driver_runs_in() -> None:
    from star.run.lifecycle import ray_job_id

    # What Ray's job supervisor puts in a job driver's environment.
    job_env = {"RAY_JOB_CONFIG_JSON_ENV_VAR": json.dumps(
        {"runtime_env": {}, "metadata": {"job_submission_id": "raysubmit_Xy12", "job_name": "raysubmit_Xy12"}})}
    assert ray_job_id(job_env) == "raysubmit_Xy12"
    assert ray_job_id({}) is None
    assert ray_job_id({"RAY_JOB_CONFIG_JSON_ENV_VAR": "not json"}) is None


def test_resume_of_an_unknown_run_without_config_names_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    _seed_run(url, "known", _default(url, "known"))
    result = star("run", "--resume", "nope", "--db", url)
    assert result.exit_code == 2 and "no run named 'nope'; `star runs` lists them" in result.stderr


DRIVER = """
import os, signal, sys, time
import star.run.driver as driver

def fake_drive(config, sessions, run_name, url, progress, skip_invalid):
    # Stands in for model, Ray and rounds: this test is about the lease and signals.
    open(sys.argv[2], "w").close()
    while True:
        time.sleep(0.05)

driver._drive = fake_drive
from star.config import load_config
config = load_config(None, {"run_name": "sig", "database": sys.argv[1], "lease.heartbeat_s": 0.2,
                            "lease.timeout_s": 30})
driver.run_star(config, show_progress=False)
"""


def _start_driver(tmp_path: Path, url: str, *, sigint_ignored: bool = False) -> tuple[subprocess.Popen, Path]:
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    # What a background job of a non-interactive shell (or nohup) inherits: SIGINT ignored.
    ignore_sigint = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, url, str(ready)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ignore_sigint)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the driver did not start"
        time.sleep(0.05)
    return proc, ready


def _heartbeat_at(url: str):
    engine = open_store(url)
    with session_factory(engine)() as s:
        value = s.scalar(select(RunLease.heartbeat_at))
    engine.dispose()
    return value


def test_a_sigkilled_drivers_lease_is_taken_at_once_by_the_next_driver(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    proc, _ = _start_driver(tmp_path, url)
    killed_pid = proc.pid
    proc.kill()  # no chance to give the lease back; its heartbeat is still fresh
    proc.wait()
    assert _run_row(url, "sig") == ("running", None, True)
    engine = open_store(url)
    try:
        from star.run.driver import claim_run

        config = load_config(None, {"run_name": "sig", "database": url, "lease.timeout_s": 3600})
        lease = claim_run(session_factory(engine), config, "sig", OTHER, now=utcnow())
    finally:
        engine.dispose()
    # not after lease.timeout_s (an hour here): the holder is on this host and its process is gone
    assert lease.took_over is not None and lease.took_over.pid == killed_pid
    assert lease.reason == f"its process {killed_pid} on {lease.took_over.host} is gone"


def test_sigterm_marks_the_run_stopped_and_releases_the_lease(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    proc, _ = _start_driver(tmp_path, url)
    first = _heartbeat_at(url)
    deadline = time.monotonic() + 120  # a bound against a hang; a loaded machine may take a while
    while _heartbeat_at(url) <= first:  # the heartbeat thread refreshes the lease
        assert time.monotonic() < deadline, "the heartbeat was never refreshed"
        time.sleep(0.1)
    assert _run_row(url, "sig") == ("running", None, True)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert _run_row(url, "sig") == ("stopped", None, False)


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["foreground", "sigint-ignored"])
def test_a_driver_whose_run_is_taken_over_stops(tmp_path: Path, sigint_ignored: bool) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    proc, _ = _start_driver(tmp_path, url, sigint_ignored=sigint_ignored)
    engine = open_store(url)
    with session_factory(engine).begin() as s:
        run = s.scalars(select(Run).where(Run.name == "sig")).one()
        acquire_lease(s, run, OTHER, now=utcnow(), timeout_s=30, force=True)
    try:
        _, err = proc.communicate(timeout=180)  # a bound, not a timing: loaded CI machines are slow
    finally:
        proc.kill()  # a driver that did not stop must not outlive the test
    assert proc.returncode == 1 or proc.returncode == 2, err
    assert "run 'sig' was taken over by another driver" in err
    with session_factory(engine)() as s:
        run = s.scalars(select(Run).where(Run.name == "sig")).one()
        assert lease_info(s, run).holder == OTHER  # the old driver left the new holder's lease alone
        assert run.status == "running"
    engine.dispose()


@pytest.mark.slow
def test_a_start_that_fails_in_ray_is_recorded_as_failed(tmp_path: Path) -> None:
    """Real Ray and vLLM: the generator cannot load a model folder whose weights are broken."""
    url = f"sqlite:///{tmp_path}/star.db"
    missing = tmp_path / "no-such-model"
    missing.mkdir()
    (missing / "config.json").write_text('{"model_type": "no-such-architecture"}')
    config = {"run_name": "bad-model", "rounds": 1, "model": str(missing), "database": url,
              "storage": str(tmp_path / "runs"),
              "task": {"name": "arithmetic", "min_digits": 1, "max_digits": 1, "train_per_digits": 4,
                       "eval_per_digits": 2},
              "generators": {"max_model_len": 256, "cpu_kv_cache_gb": 1}, "checker": {"workers": 1}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "VLLM_CPU_KVCACHE_SPACE": "1"}
    done = subprocess.run([sys.executable, "-m", "star", "run", str(path), "--quiet"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    status, error, leased = _run_row(url, "bad-model")
    assert status == "failed" and not leased, done.stderr[-3000:]
    assert error and "\n" not in error and "\x1b" not in error, error
    assert "no-such-architecture" in error.split(" ... ")[1], error  # the root cause, from inside the actor
    assert "The actor died because of an error raised in its creation task" in error
    runs = json.loads(star("runs", "--db", url, "--json").stdout)
    assert runs[0]["status"] == "failed" and runs[0]["error"] == error


@pytest.mark.slow
def test_sigterm_during_a_real_round_stops_the_run_within_seconds(tmp_path: Path, tiny_model: Path) -> None:
    """What `ray job stop` does to a driver: SIGTERM, then SIGKILL 3 s later."""
    url = f"sqlite:///{tmp_path}/star.db"
    config = {"run_name": "term", "rounds": 1, "model": str(tiny_model), "database": url,
              "storage": str(tmp_path / "runs"),
              "task": {"name": "arithmetic", "min_digits": 1, "max_digits": 3, "train_per_digits": 40,
                       "eval_per_digits": 5},
              "sampling": {"samples_per_problem": 2, "max_new_tokens": 80, "batch_problems": 4},
              "generators": {"max_model_len": 256, "cpu_kv_cache_gb": 1}, "checker": {"workers": 1}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    log = tmp_path / "driver.log"
    proc = subprocess.Popen([sys.executable, "-m", "star", "run", str(path), "--quiet"], env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 420
        while not _round_started(url):  # workers are up and round 0 is being evaluated
            assert proc.poll() is None, _driver_lines(log)
            assert time.monotonic() < deadline, "no round started within 7 minutes"
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        # Recorded and released before the SIGKILL `ray job stop` sends after 3 s. The driver is frozen
        # at 3 s and then looked at, so a slow look on a busy machine does not eat into its 3 s.
        time.sleep(3)
        os.killpg(proc.pid, signal.SIGSTOP)
        try:
            assert _run_row(url, "term") == ("stopped", None, False), _driver_lines(log)
        finally:
            os.killpg(proc.pid, signal.SIGCONT)
        # ... then the driver exits as a SIGTERM'd process (after shutting down its own local Ray).
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM, _driver_lines(log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # the local Ray the driver started goes with it, as under `ray job stop`
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert _run_row(url, "term") == ("stopped", None, False)
    with session_factory(open_store(url))() as s:  # the round it was in stays resumable
        # Round 0 (scoring the seed model) is short and may end between the look and the SIGTERM;
        # round 1 (generate, train, evaluate) cannot end in that time, so it is the one left open.
        done = set(s.scalars(select(Round.index).where(Round.status == "done")))
        assert done <= {0}, done


def _driver_lines(log: Path) -> str:
    """The driver's own output: the workers' forwarded lines (`(GeneratorActor pid=...)`) drown it."""
    lines = [line for line in log.read_text().splitlines()
             if "pid=" not in line and line.strip() and "Loading safetensors" not in line]
    return "\n".join(lines)[-4000:]


def _round_started(url: str) -> bool:
    from db.models import Attempt

    if not Path(url.removeprefix("sqlite:///")).exists():
        return False
    engine = open_store(url)
    try:
        with session_factory(engine)() as s:
            return bool(s.scalar(select(func.count()).select_from(Attempt)))
    except Exception:  # noqa: BLE001 - the schema may not exist yet
        return False
    finally:
        engine.dispose()
