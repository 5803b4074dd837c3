"""Benchmark the rationale store: ingest, search indexing, every read path, the web view, exports.

    .venv/bin/python bench/store.py                              # 1M attempts, SQLite and PostgreSQL
    .venv/bin/python bench/store.py --attempts 10000000          # the 10M run of docs/store-benchmark.md
    .venv/bin/python bench/store.py --attempts 200000 --backends sqlite --json-out /tmp/store.json

Per backend, first the cost of revision 0007 on ingest: `--ingest-ratio N` attempts
go into two fresh databases batch by batch, alternately, one at revision 0006
(before) and one at head (its triggers keep problem_rounds and mark attempts for
search), so load on the machine hits both alike; then the head one is indexed
for search. Then the main store of `--attempts` rows at head: ingest, indexing,
disk size, and p50/p95 of listing a round (and its accepted rationales), a
problem's story, flips of the run, full-text search for a rare and a common
word, the web view's run and problem pages (`star serve` in its own process,
over HTTP), round exports, and the peak RSS of exporting the whole run.
Rows: bench/store_parts/rows.py. Results: docs/store-benchmark.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from db import migrate  # noqa: E402
from db.engine import make_engine, open_store, session_factory  # noqa: E402
from db.store import AttemptRow, ProblemRow, get_or_create_round, get_or_create_run, insert_attempts  # noqa: E402
from db.store import upsert_problems  # noqa: E402
from star.cli.indexing import index_all  # noqa: E402
from star.progress import Progress  # noqa: E402
from store_parts.measures import (disk_bytes, export_memory, exports, flips_at_scale, query_latencies,  # noqa: E402
                                  snapshot_run_flips, web_latencies)
from store_parts.rows import EVAL_PROBLEMS, PROBLEMS, Corpus, RunShape, round_rows  # noqa: E402
from store_parts.space import bytes_needed, shortfall  # noqa: E402
from store_parts.table import print_table  # noqa: E402

BEFORE_0007 = "0006"


@dataclass
class Target:
    """One database being filled: its sessions and the time spent inside insert_attempts."""

    url: str
    engine: Any
    factory: Any
    insert_s: float = 0.0
    stored: int = 0
    ids: dict[str, Any] = field(default_factory=dict)


@contextmanager
def database(backend: str, workdir: Path, pg_server: str) -> Iterator[str]:
    """A fresh, empty database URL for one backend, removed afterwards."""
    if backend == "sqlite":
        path = workdir / f"bench-{secrets.token_hex(3)}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    name = f"star_bench_{secrets.token_hex(3)}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{pg_server}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def target(url: str, revision: str, corpus: Corpus) -> Target:
    """The database at `revision` with the bench run and its problems."""
    engine = make_engine(url)
    migrate.upgrade(engine, revision)
    factory = session_factory(engine)
    with factory.begin() as s:
        run = get_or_create_run(s, "bench", config={}, base_model="bench")
        train = upsert_problems(s, "bench", "train", [
            ProblemRow(f"b{i}", corpus.questions[i % 2_000], "48", {"digits": 1 + i % 5}) for i in range(PROBLEMS)])
        held = upsert_problems(s, "bench", "eval", [
            ProblemRow(f"h{i}", corpus.questions[(PROBLEMS + i) % 2_000], "48", {"digits": 1 + i % 5})
            for i in range(EVAL_PROBLEMS)])
    ids = {"run": run, "train": [train[f"b{i}"] for i in range(PROBLEMS)],
           "eval": [held[f"h{i}"] for i in range(EVAL_PROBLEMS)]}
    return Target(url, engine, factory, ids=ids)


def fill(targets: list[Target], attempts: int, batch: int, corpus: Corpus, shape: RunShape) -> int:
    """Store `attempts` rows in each target, round by round, batch by batch, alternating targets.

    Returns the last round's index. Only the time inside insert_attempts counts.
    """
    first = targets[0].ids
    assert all(t.ids["train"] == first["train"] for t in targets), "fresh databases give the same ids"
    generated, index, batches = 0, -1, 0
    while generated < attempts:
        index += 1
        round_ids = []
        for t in targets:
            with t.factory.begin() as s:
                round_ids.append(get_or_create_round(s, t.ids["run"], index).id)
        assert len(set(round_ids)) == 1
        rows: list[AttemptRow] = []
        for row in round_rows(corpus, shape, index, round_ids[0], first["train"], first["eval"],
                              first_rare=generated):
            rows.append(row)
            generated += 1
            if len(rows) == batch or generated == attempts:
                batches += 1
                _insert(targets, rows, flip=batches % 2 == 1)
                rows = []
            if generated == attempts:
                break
        if rows:
            _insert(targets, rows, flip=False)
        print(f"  round {index}: {targets[0].stored:,} stored", flush=True)
    return index


def _insert(targets: list[Target], rows: list[AttemptRow], *, flip: bool) -> None:
    for t in (reversed(targets) if flip else targets):  # neither database always goes first
        start = time.perf_counter()
        with t.factory.begin() as s:
            t.stored += insert_attempts(s, rows)
        t.insert_s += time.perf_counter() - start


def index_search(t: Target, jobs: int) -> dict[str, float]:
    """Index every stored attempt for search (`star db index`); returns attempts/s."""
    start = time.perf_counter()
    done = index_all(t.factory, progress=Progress(enabled=False), jobs=jobs)
    return {"indexed": done, "index_s": time.perf_counter() - start,
            "index_per_s": done / max(time.perf_counter() - start, 1e-9)}


def analyze(url: str) -> None:
    # Autovacuum does this within a minute of a bulk load (PostgreSQL: also merges GIN's pending
    # entries, which every search would otherwise scan); run it so timings do not depend on when.
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    engine.dispose()


def ingest_ratio(backend: str, args: argparse.Namespace, corpus: Corpus, shape: RunShape) -> dict[str, Any]:
    """Ingest at revision 0006 against head, interleaved, then index the head database."""
    with database(backend, args.workdir, args.pg_server) as old, database(backend, args.workdir, args.pg_server) as new:
        before, after = target(old, BEFORE_0007, corpus), target(new, "head", corpus)
        fill([before, after], args.ingest_ratio, args.batch, corpus, shape)
        result = {"rows": after.stored, "before_per_s": before.stored / before.insert_s,
                  "after_per_s": after.stored / after.insert_s, **index_search(after, args.jobs)}
        result["ratio"] = result["after_per_s"] / result["before_per_s"]
        # Had indexing been inside the writer's transaction, ingest could be no faster than this.
        result["sync_bound_per_s"] = 1 / (1 / result["after_per_s"] + 1 / result["index_per_s"])
        for t in (before, after):
            t.engine.dispose()
    return result


def bench_backend(backend: str, args: argparse.Namespace, corpus: Corpus, shape: RunShape,
                  finished: dict[str, dict[str, Any]]) -> dict[str, Any]:
    load = os.getloadavg()[0]
    result: dict[str, Any] = {}
    if args.ingest_ratio:
        print(f"{backend}: ingest at revision {BEFORE_0007} vs head, {args.ingest_ratio:,} attempts each", flush=True)
        result["ratio"] = ingest_ratio(backend, args, corpus, shape)
    print(f"{backend}: ingesting {args.attempts:,} attempts in batches of {args.batch:,} (load {load:.1f})", flush=True)
    with database(backend, args.workdir, args.pg_server) as url:
        main = target(url, "head", corpus)
        wall, cpu = time.perf_counter(), time.process_time()
        last = fill([main], args.attempts, args.batch, corpus, shape)
        result.update(rows=main.stored, ingest_per_s=main.stored / main.insert_s,
                      ingest_wall_s=time.perf_counter() - wall, ingest_client_cpu_s=time.process_time() - cpu)
        result.update(index_search(main, args.jobs))
        main.engine.dispose()
        analyze(url)
        result["disk_bytes"] = disk_bytes(url)
        open_store(url).dispose()  # the schema gate, as every command runs it
        engine = open_store(url)
        result["flips_snapshot_s"] = snapshot_run_flips(session_factory(engine), "bench")  # a round's end
        engine.dispose()
        result["latency"] = query_latencies(url, last, args.repeat)
        result["latency"].update(web_latencies(url, args.repeat))
        if args.flips_rounds:
            result["latency"].update(flips_at_scale(url, args.flips_rounds, args.repeat))
        save_partial(args, {**finished, backend: result})  # what is measured survives a failing export
        result["export"] = exports(url, last, args.workdir)
        try:
            result["export_memory"] = export_memory(url, last, args.workdir, whole_run=not args.skip_run_export)
        except RuntimeError as exc:
            result["export_memory_error"] = str(exc)[-500:]
            print(f"{backend}: a `star export` failed; the table leaves it out:\n{exc}", flush=True)
    result["load_before"], result["load_after"] = load, os.getloadavg()[0]
    return result


def save_partial(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    """Every backend measured so far, the current one included, beside --json-out."""
    if args.json_out:
        args.json_out.with_suffix(".partial.json").write_text(json.dumps(results, indent=2, default=str))


def pg_data_dir(server: str) -> Path | None:
    """The PostgreSQL server's data directory if it is on this machine and readable, else None."""
    try:
        engine = make_engine(f"{server.rstrip('/')}/postgres")
        with engine.connect() as conn:
            folder = Path(str(conn.exec_driver_sql("SHOW data_directory").scalar()))
        engine.dispose()
    except Exception:  # noqa: BLE001 - not superuser, or a remote server: its disk is not ours to check
        return None
    return folder if folder.is_dir() else None


def check_space(args: argparse.Namespace) -> None:
    """Refuse a run that will not fit on disk before it starts (backends run one after another)."""
    data_dir = pg_data_dir(args.pg_server) if "postgres" in args.backends else None
    for backend in args.backends.split(","):
        missing = shortfall(bytes_needed(backend, args.attempts, args.workdir, data_dir,
                                         run_export=not args.skip_run_export))
        if missing:
            raise SystemExit(f"{backend}: {args.attempts:,} attempts will not fit ({missing}); free space, pass "
                             "another --workdir, --skip-run-export, or --skip-space-check to try anyway")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", "--rows", dest="attempts", type=int, default=1_000_000)
    parser.add_argument("--ingest-ratio", type=int, default=200_000,
                        help="attempts per database for the before/after-0007 ingest comparison (0: skip)")
    parser.add_argument("--batch", type=int, default=2_000, help="attempts per insert_attempts call")
    parser.add_argument("--flips-rounds", type=int, default=0,
                        help="also time flips of a run with this many rounds of problem_rounds rows (0: skip)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=30, help="timed repetitions per query")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="search indexers in parallel (PostgreSQL; SQLite indexes one batch at a time)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "star-bench")
    parser.add_argument("--pg-server", default=os.environ.get("STAR_BENCH_PG", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument("--json-out", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument("--skip-space-check", action="store_true", help="start even if the disk looks too small")
    parser.add_argument("--skip-run-export", action="store_true",
                        help="export one round but not the whole run, whose JSONL needs about 1.5 KB an attempt "
                             "of disk (15 GB at 10M); its memory is then measured on the round only")
    parser.add_argument("--smoke", action="store_true",
                        help="Tiny sizes, so CI checks that the bench runs and prints its table (the numbers mean nothing).")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update({"attempts": 3_000, "ingest_ratio": 2_000, "batch": 500, "repeat": 3, "flips_rounds": 3})
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not args.skip_space_check:
        check_space(args)
    corpus, shape = Corpus(), RunShape()
    results: dict[str, dict[str, Any]] = {}
    for backend in args.backends.split(","):
        results[backend] = bench_backend(backend, args, corpus, shape, results)
    print()
    print_table(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2, default=str))
        args.json_out.with_suffix(".partial.json").unlink(missing_ok=True)  # the whole file supersedes it


if __name__ == "__main__":
    main()
