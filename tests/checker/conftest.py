"""Fixtures for the checker tests: the shared data and one process pool."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from star.checker import Checker

DATA = Path(__file__).resolve().parents[1] / "data"


def load_gsm8k() -> list[dict[str, str]]:
    rows = []
    for split in ("train", "test"):
        path = DATA / "gsm8k" / f"{split}.jsonl"
        with path.open(encoding="utf-8") as handle:
            rows.extend(json.loads(line) for line in handle if line.strip())
    return rows


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """tests/data: GSM8K and MATH-500, copied into the repository with their licenses."""
    return DATA


@pytest.fixture(scope="session")
def gsm8k_rows() -> list[dict[str, str]]:
    rows = load_gsm8k()
    assert len(rows) > 8000, f"GSM8K not found under {DATA}"
    return rows


@pytest.fixture(scope="session")
def pool() -> Iterator[Checker]:
    """Two workers, 2 s per check: shared by the tests that need real processes."""
    with Checker(workers=2, timeout=2.0) as checker:
        yield checker
