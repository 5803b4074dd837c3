"""Every benchmark still runs: each script in its --smoke mode exits 0 and prints its table.

`make bench` broke once (bench/generation.py called the pipeline with an old signature)
and nothing noticed; this keeps every bench script honest. The sizes are tiny, so the
numbers mean nothing; the engine start-ups of the vLLM benches dominate their time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real vLLM, Ray, TRL, SQLite and PostgreSQL, at tiny sizes

BENCH = Path(__file__).resolve().parents[2] / "bench"
#: (script, extra arguments, a line of its output that says the table was printed)
SMOKES = [
    ("checker.py", [], "Disagreements of star.checker"),
    ("store.py", [], "ingest attempts/s (all)"),
    ("generation.py", [], "star stage / raw vLLM ="),
    ("evaluation.py", [], "time ratio"),
    ("training.py", ["--no-match-niceness"], "star's trainer actor:"),
    ("embedded_builds.py", [], "right 5-digit direct samples"),
    ("ablation.py", [], "last round, held-out accuracy (%) per digit count"),
    ("round.py", [], "round / sum of its engine-bound parts ="),
]


def test_every_bench_script_has_a_smoke_run() -> None:
    assert sorted(p.name for p in BENCH.glob("*.py")) == sorted(script for script, _, _ in SMOKES)


@pytest.mark.parametrize(("script", "extra", "marker"), SMOKES, ids=[s for s, _, _ in SMOKES])
def test_bench_smoke(script: str, extra: list[str], marker: str, tmp_path: Path, tiny_model: Path) -> None:
    args = [sys.executable, str(BENCH / script), "--smoke", *extra]
    if script in ("generation.py", "evaluation.py", "training.py", "round.py"):
        args += ["--model", str(tiny_model)]  # the tests' model: no seed build in the test
    if script == "store.py":
        args += ["--workdir", str(tmp_path / "store")]
    if script in ("embedded_builds.py", "ablation.py"):
        args += ["--out", str(tmp_path / "builds")]
    env = os.environ | {"XDG_CACHE_HOME": str(tmp_path / "cache"), "VLLM_CPU_KVCACHE_SPACE": "1"}
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"{script} --smoke failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert marker in done.stdout, f"{script} --smoke printed no table:\n{done.stdout[-3000:]}"
