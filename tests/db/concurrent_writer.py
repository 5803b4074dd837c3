"""A writer process for test_store_concurrency.py (run as a script, not collected).

Usage: concurrent_writer.py URL WORKER GO_FILE. Waits for GO_FILE so all
writers start together, then stores overlapping attempts in shuffled batches,
one transaction per batch, and prints how many rows were new.
"""

from __future__ import annotations

import os
import random
import sys
import time

PROBLEMS = 400
SAMPLES_PER_WORKER = 6
STRIDE = 3  # worker w writes samples [3w, 3w + 6): neighbours overlap by half
BATCH = 300


def expected_keys(workers: int) -> set[tuple[str, int]]:
    top = STRIDE * (workers - 1) + SAMPLES_PER_WORKER
    return {(f"c{i}", k) for i in range(PROBLEMS) for k in range(top)}


def completion(external_id: str, sample: int) -> str:
    return f"rationale for {external_id} sample {sample} " + "x" * 1000


def main(url: str, worker: int, go_file: str) -> None:
    from db.engine import open_store, session_factory
    from db.store import (
        AttemptRow,
        ProblemRow,
        get_or_create_round,
        get_or_create_run,
        insert_attempts,
        upsert_problems,
    )

    while not os.path.exists(go_file):
        time.sleep(0.01)
    engine = open_store(url, pool_size=1, max_overflow=0)
    factory = session_factory(engine)
    with factory.begin() as s:
        run = get_or_create_run(s, "concurrent", config={}, base_model="tiny")
        round_id = get_or_create_round(s, run, 1).id
        problems = [ProblemRow(f"c{i}", f"q{i}", "4", {}) for i in range(PROBLEMS)]
        ids = upsert_problems(s, "conc", "train", problems)
    samples = range(STRIDE * worker, STRIDE * worker + SAMPLES_PER_WORKER)
    rows = [
        AttemptRow(round_id, pid, "direct", k, "p", "p", completion(ext, k), "4", "correct",
                   True, True, None, 3, 300, f"w{worker}")
        for ext, pid in ids.items() for k in samples
    ]
    random.Random(worker).shuffle(rows)
    inserted = 0
    for start in range(0, len(rows), BATCH):
        with factory.begin() as s:
            inserted += insert_attempts(s, rows[start : start + BATCH])
    engine.dispose()
    print(inserted)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
