"""`star submit` and `star jobs` against a real two-node Ray cluster with token auth.

One run goes through the whole life a user gives it: submitted (no --wait),
a second submission refused while it runs, stopped mid-round, resubmitted with
the same run name and followed with --wait to the end. Then the store must
hold exactly what one uninterrupted run would: every problem's K samples once,
every held-out problem once per round. The PostgreSQL store is reached by the
job through STAR_DATABASE_URL, which star forwards into the job's env.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import CompletedProcess

import psycopg
import pytest
import yaml
from sqlalchemy import func, select

from db.engine import open_store, session_factory
from db.models import Attempt, Round, Run
from star.config import validate_config
from star.tasks import build_task

pytestmark = pytest.mark.slow

RUN = "jobs-itest"
K = 2
WAIT_S = 420


def tiny_config(model: Path, storage: Path) -> dict:
    """One fast round: 1-2 digit sums, small batches so that generation spans many store
    writes and a stop lands in the middle of it."""
    return {
        "rounds": 1, "model": str(model), "storage": str(storage),
        "task": {"name": "arithmetic", "min_digits": 1, "max_digits": 2, "train_per_digits": 150,
                 "eval_per_digits": 8},
        "sampling": {"samples_per_problem": K, "max_new_tokens": 80, "batch_problems": 4},
        "rationalization": {"samples_per_problem": 1},
        "training": {"base_steps": 4, "batch_size": 8, "learning_rate": 1e-3},
        "evaluation": {"max_new_tokens": 80},
        "generators": {"max_model_len": 256, "cpu_kv_cache_gb": 1},
        "checker": {"workers": 1},
    }


@dataclass
class Story:
    """What happened to the run, step by step; the tests below assert on it."""

    db_url: str
    config_path: Path
    n_train: int
    n_eval: int
    steps: dict[str, CompletedProcess] = field(default_factory=dict)
    direct_when_stopped: int = 0
    round1_status_when_stopped: str = ""


def _counts(sessions, kind: str, round_index: int) -> int:  # type: ignore[no-untyped-def]
    with sessions() as s:
        query = (select(func.count()).select_from(Attempt).join(Round, Attempt.round_id == Round.id)
                 .join(Run, Round.run_id == Run.id)
                 .where(Run.name == RUN, Round.index == round_index, Attempt.kind == kind))
        return s.scalar(query) or 0


def _round_status(sessions, index: int) -> str | None:  # type: ignore[no-untyped-def]
    with sessions() as s:
        query = select(Round.status).join(Run).where(Run.name == RUN, Round.index == index)
        return s.scalar(query)


def _until(condition, what: str, timeout: float = WAIT_S, poll_s: float = 0.5) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="module")
def story(ray_cluster, pg_database, tiny_model, tmp_path_factory) -> Story:  # type: ignore[no-untyped-def]
    schema = f"jobs_{secrets.token_hex(4)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    db_url = f"{pg_database}?options=-csearch_path%3D{schema}"
    work = tmp_path_factory.mktemp("jobs")
    config = tiny_config(tiny_model, work / "runs")
    config_path = work / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config))
    task = build_task(validate_config(config).task)
    story = Story(db_url, config_path, len(task.train_problems()), len(task.eval_problems()))
    env = {**ray_cluster.env, "STAR_DATABASE_URL": db_url}
    star, steps = ray_cluster.star, story.steps

    steps["upgrade"] = star("db", "upgrade", env=env)  # PostgreSQL is migrated by hand, as users do
    assert steps["upgrade"].returncode == 0, steps["upgrade"].stderr
    steps["submit"] = star("submit", str(config_path), "--run-name", RUN, env=env)
    assert steps["submit"].returncode == 0, steps["submit"].stderr
    job1 = f"star-{RUN}-1"

    steps["second"] = star("submit", str(config_path), "--run-name", RUN, env=env)  # job1 is active

    sessions = session_factory(open_store(db_url))
    # Mid-round: round 1 has started storing rationales and has not finished. The stop goes
    # straight to the job server: on two busy cores a CLI start-up outlasts the whole phase
    # (`star jobs stop` on a running job is the test below).
    _until(lambda: _counts(sessions, "direct", 1) > 0 or ray_cluster.job_status(job1) in ("FAILED", "SUCCEEDED"),
           "round 1's first stored rationales", poll_s=0.1)
    assert ray_cluster.stop_job(job1)
    _until(lambda: ray_cluster.job_status(job1) == "STOPPED", f"{job1} to stop", timeout=120)
    story.direct_when_stopped = _counts(sessions, "direct", 1)
    story.round1_status_when_stopped = _round_status(sessions, 1) or ""
    print(f"stopped {job1} in round 1 ({story.round1_status_when_stopped}) with {story.direct_when_stopped} "
          f"of {story.n_train * K} direct rationales stored")
    steps["duplicate_id"] = star("submit", str(config_path), "--run-name", "other-run",
                                 "--submission-id", job1, env=env)

    steps["resubmit"] = star("submit", str(config_path), "--run-name", RUN, "--wait", env=env)
    steps["list"] = star("jobs", "list", "--json", env=env)
    steps["status"] = star("jobs", "status", f"star-{RUN}-2", "--json", env=env)
    steps["logs"] = star("jobs", "logs", f"star-{RUN}-2", env=env)
    steps["stop_finished"] = star("jobs", "stop", f"star-{RUN}-2", env=env)
    return story


def test_a_stopped_job_resubmitted_with_its_run_name_ends_with_nothing_lost_or_duplicated(story: Story) -> None:
    submit, resubmit = story.steps["submit"], story.steps["resubmit"]
    assert f"submitted star-{RUN}-1 (run {RUN})" in submit.stdout
    assert "model travels with the job as model" in submit.stdout
    # it was stopped in the middle of round 1's generation: some rationales stored, not all
    assert 0 < story.direct_when_stopped < story.n_train * K
    assert story.round1_status_when_stopped == "generating"
    assert resubmit.returncode == 0, resubmit.stdout[-3000:] + resubmit.stderr[-3000:]
    assert f"submitted star-{RUN}-2" in resubmit.stdout and f"star-{RUN}-2: SUCCEEDED" in resubmit.stderr
    assert f"STaR run {RUN}" in resubmit.stdout  # --wait printed the job's own output

    sessions = session_factory(open_store(story.db_url))
    with sessions() as s:
        run = s.scalars(select(Run).where(Run.name == RUN)).one()
        rounds = {r.index: r for r in run.rounds}
        assert set(rounds) == {0, 1} and all(r.status == "done" for r in rounds.values())
        direct = list(s.scalars(select(Attempt).where(Attempt.round_id == rounds[1].id, Attempt.kind == "direct")))
        evals = list(s.scalars(select(Attempt).where(Attempt.kind == "eval", Attempt.run_id == run.id)))
        rationalized = list(s.scalars(select(Attempt).where(Attempt.kind == "rationalized")))
    # exactly one uninterrupted run's rows: K samples per problem, each once
    assert len(direct) == story.n_train * K
    assert len({(a.problem_id, a.sample_index) for a in direct}) == len(direct)
    assert len(evals) == 2 * story.n_eval and len({(a.round_id, a.problem_id) for a in evals}) == len(evals)
    failed = {a.problem_id for a in direct} - {a.problem_id for a in direct if a.accepted}
    assert {a.problem_id for a in rationalized} == failed and len(rationalized) == len(failed)
    assert rounds[1].attempted == story.n_train and rounds[1].model_out


def test_a_second_submission_of_an_active_run_is_refused_naming_its_job(story: Story) -> None:
    second = story.steps["second"]
    assert second.returncode == 2
    assert re.fullmatch(rf"error: run '{RUN}' already has job star-{RUN}-1 \((PENDING|RUNNING)\); wait for it "
                        rf"or stop it with `star jobs stop star-{RUN}-1`\n", second.stderr), second.stderr


def test_a_taken_submission_id_is_refused_in_one_line(story: Story) -> None:
    duplicate = story.steps["duplicate_id"]
    assert duplicate.returncode == 2 and duplicate.stderr.count("\n") == 1
    assert f"already has a job with submission id 'star-{RUN}-1'" in duplicate.stderr


def test_jobs_list_status_and_logs_show_the_runs_jobs_and_progress(story: Story) -> None:
    listed = {row["submission_id"]: row for row in json.loads(story.steps["list"].stdout)}
    assert listed[f"star-{RUN}-1"]["status"] == "STOPPED" and listed[f"star-{RUN}-2"]["status"] == "SUCCEEDED"
    for row in listed.values():
        assert row["run"] == RUN and row["round"] == 1 and row["phase"] == "done"  # from the store
        assert row["start"] and row["end"]
    status = json.loads(story.steps["status"].stdout)
    assert status["submission_id"] == f"star-{RUN}-2" and status["status"] == "SUCCEEDED"
    logs = story.steps["logs"].stdout
    assert f"Running entrypoint for job star-{RUN}-2: star run star_job.yaml --run-name {RUN}" in logs
    assert f"STaR run {RUN}" in logs and "held-out accuracy" in logs
    assert "had already ended (SUCCEEDED)" in story.steps["stop_finished"].stdout


def test_without_the_token_or_with_a_wrong_one_submission_is_refused_in_one_line(
        ray_cluster, story: Story, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bare = {k: v for k, v in ray_cluster.env.items() if not k.startswith("RAY_AUTH")}
    bare.update(HOME=str(tmp_path), STAR_DATABASE_URL=story.db_url)  # a HOME with no ~/.ray/auth_token
    args = ("submit", str(story.config_path), "--run-name", "no-token", "--wait")
    refused = ray_cluster.star(*args, env=bare)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == (f"error: the Ray cluster at {ray_cluster.dashboard_url} requires an auth token and "
                              "none was found; set RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH to a file holding it, "
                              "or put it in ~/.ray/auth_token (on the head, `ray get-auth-token` prints it)\n")
    wrong = ray_cluster.star(*args, env={**bare, "RAY_AUTH_TOKEN": "not-the-token"})
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    assert "rejected the auth token from $RAY_AUTH_TOKEN" in wrong.stderr

    # A token file where Ray looks for it is all a user needs: star turns token mode on itself.
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text(ray_cluster.token)
    listed = ray_cluster.star("jobs", "list", "--json", env=bare)
    assert listed.returncode == 0, listed.stderr
    assert "no-token" not in {row["run"] for row in json.loads(listed.stdout)}  # the refused ones never got in


def test_an_unknown_job_is_one_line(ray_cluster) -> None:  # type: ignore[no-untyped-def]
    result = ray_cluster.star("jobs", "status", "star-nope-1")
    assert result.returncode == 2
    assert result.stderr == (f"error: no job 'star-nope-1' on {ray_cluster.dashboard_url}; "
                             "`star jobs list` lists them\n")


def test_star_jobs_stop_stops_a_running_job_and_says_how_to_continue(ray_cluster, story: Story) -> None:  # type: ignore[no-untyped-def]
    env = {**ray_cluster.env, "STAR_DATABASE_URL": story.db_url}
    submitted = ray_cluster.star("submit", str(story.config_path), "--run-name", "stop-me", env=env)
    assert submitted.returncode == 0, submitted.stderr
    _until(lambda: ray_cluster.job_status("star-stop-me-1") == "RUNNING", "star-stop-me-1 to run", timeout=120)
    stopped = ray_cluster.star("jobs", "stop", "star-stop-me-1", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == ("stopping job star-stop-me-1; continue the run with "
                              "`star submit CONFIG --run-name stop-me`\n")
    _until(lambda: ray_cluster.job_status("star-stop-me-1") == "STOPPED", "star-stop-me-1 to stop", timeout=120)


def test_wait_exits_1_with_the_drivers_own_error_when_the_job_fails(ray_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A store the cluster cannot reach: the config is valid here, the driver fails there at once.
    env = {**ray_cluster.env, "STAR_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}
    failed = ray_cluster.star("submit", "--run-name", "fails", "--set", f"storage={tmp_path}", "--wait", env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "job star-fails-1: FAILED" in failed.stderr
    assert "error: cannot use database postgresql://postgres@127.0.0.1:1/nowhere" in failed.stdout
