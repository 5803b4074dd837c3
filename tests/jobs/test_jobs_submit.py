"""Submission ids, the refusal of a second active job, the auth token lookup and the
address checks: the parts of `star submit` / `star jobs` that need no cluster.

Job lists are Ray's own JobDetails objects, as the job server returns them.
"""

from __future__ import annotations

import shlex
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from ray.job_submission import JobDetails, JobStatus, JobType

from star.cli import cli, register_commands
from star.cli.options import parse_sets
from star.errors import ConfigError, StarError
from star.jobs.auth import find_token, job_server_address
from star.jobs.submit import active_job, entrypoint, next_submission_id, star_jobs


def job(submission_id: str, status: str, run: str | None, start: int = 0) -> JobDetails:
    return JobDetails(type=JobType.SUBMISSION, submission_id=submission_id, status=JobStatus(status),
                      entrypoint="star run", metadata={"star_run": run} if run else {}, start_time=start)


def test_submission_ids_count_earlier_attempts_of_the_same_run_only() -> None:
    jobs = [job("star-a-1", "STOPPED", "a", 1), job("star-b-1", "SUCCEEDED", "b", 2),
            job("raysubmit_x", "SUCCEEDED", None, 3)]
    assert next_submission_id("a", jobs) == "star-a-2"
    assert next_submission_id("b", jobs) == "star-b-2"
    assert next_submission_id("new", jobs) == "star-new-1"
    # a custom --submission-id counts as an attempt; a deleted earlier job leaves no gap to reuse
    assert next_submission_id("a", [*jobs, job("nightly-7", "FAILED", "a", 4)]) == "star-a-3"
    assert next_submission_id("a", [job("star-a-4", "FAILED", "a")]) == "star-a-5"
    assert next_submission_id("a", [job("star-a-10", "FAILED", "other")]) == "star-a-11"
    assert [j.submission_id for j in star_jobs(jobs)] == ["star-a-1", "star-b-1"]


def test_a_run_with_a_pending_or_running_job_is_active() -> None:
    for status in ("PENDING", "RUNNING"):
        assert active_job("a", [job("star-a-1", "FAILED", "a"), job("star-a-2", status, "a")]).submission_id == "star-a-2"
    assert active_job("a", [job("star-a-1", "STOPPED", "a"), job("star-b-1", "RUNNING", "b")]) is None


def test_the_entrypoint_names_the_run_and_joins_the_cluster() -> None:
    assert shlex.split(entrypoint("star_job.yaml", "my-run")) == [
        "star", "run", "star_job.yaml", "--run-name", "my-run", "--set", "ray_address=auto"]


def test_the_token_is_found_where_ray_looks_for_it_in_rays_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("from-file\n")
    path = tmp_path / "tok"
    path.write_text("from-path")
    assert find_token({"RAY_AUTH_TOKEN": "from-env", "RAY_AUTH_TOKEN_PATH": str(path)}, home).value == "from-env"
    assert find_token({"RAY_AUTH_TOKEN_PATH": str(path)}, home).value == "from-path"
    assert find_token({}, home).value == "from-file"
    assert find_token({}, tmp_path / "nobody") is None
    with pytest.raises(StarError, match="RAY_AUTH_TOKEN_PATH names .*missing.*missing or empty"):
        find_token({"RAY_AUTH_TOKEN_PATH": str(tmp_path / "missing")}, home)  # Ray: no silent fallback


def test_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(StarError, match="--address http://HEAD:8265 or set \\$RAY_ADDRESS"):
        job_server_address(None)
    assert job_server_address("head:8265/") == "http://head:8265"
    assert job_server_address("https://ray.example.com") == "https://ray.example.com"
    monkeypatch.setenv("RAY_ADDRESS", "http://10.0.0.1:8265")
    assert job_server_address(None) == "http://10.0.0.1:8265"
    with pytest.raises(StarError, match="not a job server address"):
        job_server_address("auto")


def test_parse_sets_reads_yaml_values_and_names_a_malformed_item() -> None:
    assert parse_sets(["a.b=0.5", "c=true", "d=[x, y]", "e=s=t"]) == {"a.b": 0.5, "c": True, "d": ["x", "y"], "e": "s=t"}
    with pytest.raises(ConfigError, match="needs FIELD=VALUE"):
        parse_sets(["novalue"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _star(*args: str) -> tuple[int, str]:
    register_commands()
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_bad_config_value_exits_2_before_anything_is_sent() -> None:
    code, output = _star("submit", "--address", f"http://127.0.0.1:{_free_port()}",
                         "--set", "sampling.temperature=-1", "--set", "storage=/mnt/shared")
    assert code == 2 and "`sampling.temperature`" in output and "cannot reach" not in output


def test_an_unreachable_address_is_one_line_naming_the_fix() -> None:
    address = f"http://127.0.0.1:{_free_port()}"
    for args in (["submit", "--set", "storage=/mnt/shared", "--db", "sqlite:////tmp/x.db"], ["jobs", "list"],
                 ["jobs", "stop", "star-x-1"]):
        code, output = _star(*args, "--address", address)
        assert code == 2, output
        assert output.strip().count("\n") == 0 and output.startswith(f"error: cannot reach a Ray job server at {address}")
        assert "--address" in output and "Traceback" not in output


def test_a_relative_storage_is_refused_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAR_DATABASE_URL", "postgresql://db/star")
    code, output = _star("submit", "--address", f"http://127.0.0.1:{_free_port()}")
    assert code == 2 and "`storage` is 'star_runs', a relative path" in output


@pytest.fixture
def plain_web_server():  # type: ignore[no-untyped-def]
    """A real HTTP server that is not a Ray dashboard (404 for every path)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NotRay(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotRay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_address_that_answers_without_a_job_server_is_one_line(plain_web_server: str) -> None:
    code, output = _star("jobs", "list", "--address", plain_web_server)
    assert code == 2 and output.count("\n") == 1, output
    assert output.startswith(f"error: {plain_web_server} answers but offers no Ray job server")
    assert "port 8265" in output
