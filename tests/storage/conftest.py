"""A real S3-compatible server (moto's) for the storage tests: a subprocess on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    process: subprocess.Popen


def start_moto(env: dict[str, str] | None = None) -> S3Server:
    """Start `python -m moto.server` and wait until it answers (it takes a second or two to import)."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install 'moto[server]>=5')")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode} before answering")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return S3Server(f"http://127.0.0.1:{port}", process)
        except OSError:
            time.sleep(0.1)
    stop_moto(S3Server("", process))
    raise RuntimeError("moto server did not answer within 60 s")


def stop_moto(server: S3Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(name="free_port")
def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for an unreachable endpoint)."""
    return free_port()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[S3Server]:
    server = start_moto()
    yield server
    stop_moto(server)


@pytest.fixture
def s3_bucket(moto_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the module's moto server, with the AWS variables pointing at it; its name."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "star-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "star-test-secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance-metadata service
    import boto3  # test setup only: star itself talks to the server through pyarrow

    bucket = f"star-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def moto_server_with_auth() -> Iterator[S3Server]:
    """A moto server that checks request signatures against its own (empty) IAM: every key is refused."""
    server = start_moto(env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    yield server
    stop_moto(server)
