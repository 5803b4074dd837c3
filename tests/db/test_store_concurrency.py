"""Several writer processes on one database lose and duplicate nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from db import migrate
from db.engine import make_engine, open_store, session_factory
from db.models import Attempt, Problem

WRITERS = 4
SCRIPT = Path(__file__).with_name("concurrent_writer.py")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SCRIPT.parent))
import concurrent_writer  # noqa: E402  (a script next to this file, not a package module)


def test_concurrent_writers_lose_and_duplicate_nothing(store_url: str, tmp_path: Path) -> None:
    if store_url.startswith("postgresql"):
        bare = make_engine(store_url)
        migrate.upgrade(bare)  # on SQLite the writers race to create the fresh file themselves
        bare.dispose()
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    procs = [
        subprocess.Popen([sys.executable, str(SCRIPT), store_url, str(w), str(go)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(WRITERS)
    ]
    time.sleep(1.0)  # let every interpreter finish importing before the start signal
    go.touch()
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
    expected = concurrent_writer.expected_keys(WRITERS)
    assert sum(int(out) for out, _ in results) == len(expected)  # every row counted once

    engine = open_store(store_url)
    with session_factory(engine)() as s:
        stored = s.execute(
            select(Problem.external_id, Attempt.sample_index, Attempt.completion).join(Problem)
        ).all()
        assert s.scalar(select(Problem.id).where(Problem.external_id == "c0")) is not None
    engine.dispose()
    keys = [(ext, k) for ext, k, _ in stored]
    assert len(keys) == len(set(keys)) == len(expected) and set(keys) == expected
    assert all(text == concurrent_writer.completion(ext, k) for ext, k, text in stored)
