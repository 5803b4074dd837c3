"""The slow lane's schedule (tests/conftest.py) names tests that exist and keeps a file on one worker.

A renamed test file or test would silently fall to the end of the queue: the suite stays
green but its longest test may start last, when the other worker is nearly done.
"""

from __future__ import annotations

import re
import subprocess
import sys
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


def _slow_lane_flags() -> list[str]:
    """The flags `make test` runs the slow lane with (after `-m slow`), read from the Makefile."""
    [line] = [line for line in (REPO / "Makefile").read_text().splitlines() if "pytest -m slow" in line]
    return line.split("-m slow", 1)[1].split()


def test_every_scheduled_test_exists(slow_lane_order) -> None:
    weights, spread = slow_lane_order
    missing = [nodeid for nodeid in weights if not _exists(nodeid)]
    assert not missing, f"SLOW_LANE_SECONDS names tests that do not exist (renamed?): {missing}"
    assert all((REPO / file).is_file() for file in spread)
    assert _exists("tests/bench/test_bench_smoke.py::test_bench_smoke[nonexistent.py]") is False  # the check can fail


def test_a_spread_file_is_weighed_per_test_not_whole(slow_lane_order) -> None:
    weights, spread = slow_lane_order
    assert not spread & set(weights), "a spread file's tests run apart: weigh each test, not the file"


def test_a_work_unit_is_the_file_except_in_a_spread_file(work_unit) -> None:
    assert work_unit("tests/cluster/test_jobs_cluster.py::test_b") == "tests/cluster/test_jobs_cluster.py"
    spread = "tests/bench/test_bench_smoke.py::test_bench_smoke[round.py]"
    assert work_unit(spread) == spread


def test_the_slow_lanes_flags_keep_each_files_tests_on_one_worker() -> None:
    """The property the slow lane's module fixtures rely on, checked end to end on two pure files
    (once, with `--dist loadgroup` under pytest 9, it silently did not hold)."""
    files = ["tests/foundations/test_config.py", "tests/foundations/test_actor_calls.py"]
    run = subprocess.run([sys.executable, "-m", "pytest", *_slow_lane_flags(), "-v", "-p", "no:cacheprovider", *files],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    workers: dict[str, set[str]] = {}
    for worker, nodeid in re.findall(r"^\[(gw\d+)\] .*?PASSED (\S+)", run.stdout, re.MULTILINE):
        workers.setdefault(nodeid.split("::")[0], set()).add(worker)
    assert set(workers) == set(files), run.stdout[-3000:]
    assert all(len(used) == 1 for used in workers.values()), workers
