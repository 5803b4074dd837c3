"""The storage tests' S3 fixtures, on the real moto server of tests/conftest.py (`moto_server`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def s3_bucket(moto_server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the module's moto server, with the AWS variables pointing at it; its name."""
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    return moto_server.new_bucket()


@pytest.fixture
def moto_server_with_auth(start_s3_server: Callable) -> Iterator:
    """A moto server that checks request signatures against its own (empty) IAM: every key is refused."""
    server = start_s3_server(env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    yield server
    server.stop()
