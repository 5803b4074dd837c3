"""The slow lane's schedule (tests/conftest.py) names tests that exist.

A renamed test file or test would silently fall to the end of the queue: the suite stays
green but its longest test may start last, when the other worker is nearly done.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _exists(nodeid: str) -> bool:
    file, _, test = nodeid.partition("::")
    if not (REPO / file).is_file():
        return False
    if not test:
        return True
    name, _, param = test.partition("[")
    source = (REPO / file).read_text()
    defined = re.search(rf"^\s*def {re.escape(name)}\(", source, re.MULTILINE) is not None
    return defined and (not param or f'"{param.rstrip("]")}"' in source)


def test_every_scheduled_test_exists(slow_lane_order) -> None:
    weights, spread = slow_lane_order
    missing = [nodeid for nodeid in weights if not _exists(nodeid)]
    assert not missing, f"SLOW_LANE_SECONDS names tests that do not exist (renamed?): {missing}"
    assert all((REPO / file).is_file() for file in spread)
    assert _exists("tests/bench/test_bench_smoke.py::test_bench_smoke[nonexistent.py]") is False  # the check can fail


def test_a_spread_file_is_weighed_per_test_not_whole(slow_lane_order) -> None:
    weights, spread = slow_lane_order
    assert not spread & set(weights), "a spread file's tests run apart: weigh each test, not the file"
