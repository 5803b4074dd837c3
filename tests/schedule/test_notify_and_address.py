"""--notify webhooks against a real local HTTP server, and the --address (Ray job) path.

`star submit` belongs to the cluster work and is not on this branch: the
address tests check the command line star builds, and the firing's bookkeeping
(job id, result) with a small `star`-compatible stand-in executable.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from star.schedule.firing import FiringSpec, star_command

FAKE_STAR = str(Path(__file__).with_name("fake_star_submit.py"))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.fixture
def webhook() -> Any:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"type": self.headers["Content-Type"], **json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_notify_posts_success_and_failure(harness: Any, webhook: Any) -> None:
    url, received = webhook
    harness.add(created=utc(2027, 1, 1, 12), notify=url, max_retries=1, retry_backoff_s=60)
    harness.tick(utc(2027, 1, 2, 2, 1))
    harness.fake_args = ["--fail"]
    harness.tick(utc(2027, 1, 3, 2, 1))
    assert [r["status"] for r in received] == ["succeeded", "failed"]
    ok, failed = received
    assert ok["type"] == "application/json"
    assert (ok["schedule"], ok["slot"], ok["round"], ok["error"]) == ("nightly", "2027-01-02T02:00:00+00:00", 1, None)
    assert ok["accuracy"] == pytest.approx(0.1)  # the fake round's held-out accuracy of round 1
    assert failed["slot"] == "2027-01-03T02:00:00+00:00" and "boom" in failed["error"]
    assert failed["round"] == 1  # the run still stands at round 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_webhook_that_is_down_never_fails_the_firing(harness: Any) -> None:
    harness.add(created=utc(2027, 1, 1, 12), notify=f"http://127.0.0.1:{_closed_port()}/hook")
    scheduler = harness.tick(utc(2027, 1, 2, 2, 1))
    assert scheduler.finished == [("nightly", "succeeded")]
    assert harness.history()[0]["status"] == "succeeded"


def _spec(attempt: int = 1, address: str | None = "http://head:8265") -> FiringSpec:
    return FiringSpec(schedule="nightly", run_name="gsm8k-nightly", slot=utc(2027, 1, 2, 1), attempt=attempt,
                      target_round=4, config_path=Path("/tmp/cfg.yaml"), store_url="postgresql://db/star",
                      address=address)


def test_local_firing_command_is_star_run_to_the_target_round() -> None:
    assert star_command(_spec(address=None)) == [
        sys.executable, "-m", "star", "run", "/tmp/cfg.yaml", "--run-name", "gsm8k-nightly", "--rounds", "4",
        "--db", "postgresql://db/star", "--quiet"]


def test_address_firing_command_is_star_submit_with_a_slot_derived_id() -> None:
    assert star_command(_spec()) == [
        sys.executable, "-m", "star", "submit", "/tmp/cfg.yaml", "--address", "http://head:8265",
        "--run-name", "gsm8k-nightly", "--rounds", "4", "--submission-id", "star-nightly-20270102T010000Z", "--wait"]
    assert _spec(attempt=2).submission_id == "star-nightly-20270102T010000Z-retry1"


def _via_fake_star(harness: Any, behaviour: str) -> Any:
    def command(spec: FiringSpec) -> list[str]:
        argv = star_command(spec)
        assert argv[1:3] == ["-m", "star"]
        return [sys.executable, FAKE_STAR, *argv[3:], "--calls", str(harness.calls), "--behaviour", behaviour]
    return command


@pytest.mark.parametrize("behaviour,status", [("succeed", "succeeded"), ("fail", "failed")])
def test_address_firing_records_the_job_id_and_result(harness: Any, behaviour: str, status: str) -> None:
    harness.add(created=utc(2027, 1, 1, 12), address="http://127.0.0.1:8265", max_retries=1)
    scheduler = harness.scheduler(utc(2027, 1, 2, 2, 1))
    scheduler.command = _via_fake_star(harness, behaviour)
    scheduler.tick(wait=True)
    firing = harness.history()[0]
    assert (firing["status"], firing["job_id"]) == (status, "star-nightly-20270102T020000Z")
    call = harness.invocations()[0]
    assert call["address"] == "http://127.0.0.1:8265" and call["wait"] and call["rounds"] == 1
    if status == "failed":
        assert "job star-nightly-20270102T020000Z FAILED" in firing["error"]
        retry = harness.scheduler(utc(2027, 1, 2, 2, 20))
        retry.command = _via_fake_star(harness, "succeed")
        retry.tick(wait=True)
        firing = harness.history()[0]
        assert (firing["status"], firing["job_id"]) == ("succeeded", "star-nightly-20270102T020000Z-retry1")
