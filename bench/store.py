"""Benchmark the rationale store: ingest rate, listing latency and round export.

    .venv/bin/python bench/store.py                       # 1M attempts, SQLite and PostgreSQL
    .venv/bin/python bench/store.py --rows 100000 --backends sqlite

Rows are realistic: GSM8K-sized questions, 1-2 KB completions, 10 samples per
problem, about a third accepted. Ingest goes through `insert_attempts` exactly
as the loop calls it (one transaction per batch). Listing is what
`star rationales RUN --round R --limit 100` runs, timed both as the query
function and through the CLI code in-process (store open + query + JSON); the
export is a full round through `star export`. Results: docs/store-benchmark.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from db import migrate  # noqa: E402
from db.engine import make_engine, open_store, session_factory  # noqa: E402
from db.export import export  # noqa: E402
from db.queries import RationaleFilter, list_rationales  # noqa: E402
from db.store import AttemptRow, ProblemRow, get_or_create_round, get_or_create_run, insert_attempts, upsert_problems  # noqa: E402  # noqa: E402

SAMPLES = 10  # per problem per round
PROBLEMS = 10_000  # so a round holds 100k attempts
WORDS = ("the", "so", "we", "add", "carry", "total", "each", "then", "apples", "left", "is", "of",
         "=", "+", "3", "12", "48", "answer", "first", "minus", "times", "she", "buys", "more")


class Corpus:
    """Pools of pseudo-text, so generating rows costs little next to storing them."""

    def __init__(self, seed: int = 0) -> None:
        rng = random.Random(seed)
        self.questions = [self._text(rng, rng.randint(150, 400)) + "?" for _ in range(2_000)]
        self.completions = [self._text(rng, rng.randint(1_000, 2_000)) for _ in range(5_000)]

    @staticmethod
    def _text(rng: random.Random, size: int) -> str:
        out: list[str] = []
        length = 0
        while length < size:
            word = rng.choice(WORDS)
            out.append(word)
            length += len(word) + 1
        return " ".join(out)[:size]


def attempt_batches(corpus: Corpus, round_id: int, problem_ids: list[int], batch: int) -> Iterator[list[AttemptRow]]:
    rng = random.Random(round_id)
    rows: list[AttemptRow] = []
    for n, pid in enumerate(problem_ids):
        prompt = f"Question: {corpus.questions[n % len(corpus.questions)]}\nAnswer:"
        for k in range(SAMPLES):
            ok = rng.random() < 0.33
            text = f"Attempt {round_id}.{pid}.{k}: " + rng.choice(corpus.completions)
            rows.append(AttemptRow(round_id, pid, "direct", k, prompt, prompt, text, "48" if ok else "12",
                                   "correct" if ok else "incorrect", ok, ok, None, 60, len(text) // 4, "bench"))
            if len(rows) == batch:
                yield rows
                rows = []
    if rows:
        yield rows


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


def ingest(url: str, rows: int, batch: int, corpus: Corpus) -> tuple[dict[str, Any], int]:
    """Store `rows` attempts in rounds of 100k; returns timings and the last round index."""
    engine = open_store(url)
    factory = session_factory(engine)
    problems = [ProblemRow(f"b{i}", corpus.questions[i % 2_000], "48", {}) for i in range(PROBLEMS)]
    with factory.begin() as s:
        run = get_or_create_run(s, "bench", config={}, base_model="bench")
        pids = list(upsert_problems(s, "bench", "train", problems).values())
    stored, insert_s, last_round, tail_rate = 0, 0.0, 0, 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    while stored < rows:
        last_round += 1
        with factory.begin() as s:
            round_id = get_or_create_round(s, run, last_round).id
        need = min(rows - stored, PROBLEMS * SAMPLES)
        round_s = 0.0
        for chunk in attempt_batches(corpus, round_id, pids[: -(-need // SAMPLES)], batch):
            start = time.perf_counter()
            with factory.begin() as s:
                stored += insert_attempts(s, chunk)
            round_s += time.perf_counter() - start
        insert_s += round_s
        tail_rate = need / round_s
        print(f"  round {last_round}: {stored:,} stored, {need / round_s:,.0f} attempts/s", flush=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    return {"rows": stored, "ingest_per_s": stored / insert_s, "last_round_per_s": tail_rate,
            "ingest_wall_s": wall, "ingest_client_cpu_s": cpu}, last_round


def analyze(url: str) -> None:
    # Autovacuum does this on its own within a minute of a bulk load; run it so
    # the timings do not depend on when it happened to fire.
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    engine.dispose()


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()  # warm the page cache and SQLAlchemy's statement cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"p50_ms": statistics.median(samples), "p95_ms": samples[int(0.95 * (len(samples) - 1))]}


def latencies(url: str, round_index: int, repeat: int) -> dict[str, Any]:
    from click.testing import CliRunner

    from star.cli import cli, register_commands

    register_commands()
    engine = open_store(url)
    factory = session_factory(engine)

    def query(**kw: Any) -> Callable[[], Any]:
        flt = RationaleFilter(**{"run": "bench", "round_index": round_index, "limit": 100, **kw})

        def run() -> list:
            with factory() as s:
                return list_rationales(s, flt)
        return run

    def cli_list() -> None:
        args = ["rationales", "bench", "--round", str(round_index), "--limit", "100", "--json", "--db", url]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output

    out = {
        "list": timed(query(), repeat),
        "list_correct": timed(query(correct=True), repeat),
        "list_problem": timed(query(problem="b77"), repeat),
        "list_run": timed(query(round_index=None), repeat),
        # Worst case: a substring no completion has scans the whole round.
        "list_contains_miss": timed(query(contains="no such text"), 3),
        "cli_list": timed(cli_list, max(5, repeat // 3)),
    }
    engine.dispose()
    return out


def exports(url: str, round_index: int, workdir: Path) -> dict[str, Any]:
    engine = open_store(url)
    factory = session_factory(engine)
    out: dict[str, Any] = {}
    for fmt, pairs in (("jsonl", False), ("parquet", False), ("hf", False), ("parquet", True)):
        with tempfile.TemporaryDirectory(dir=workdir) as scratch:
            start = time.perf_counter()
            with factory() as s:
                target = Path(scratch) / f"round.{fmt}"
                n = export(s, "bench", round_index=round_index, fmt=fmt, out=target, pairs=pairs)
            out[f"{fmt}{'_pairs' if pairs else ''}"] = {"rows": n, "s": time.perf_counter() - start}
    engine.dispose()
    return out


def bench_backend(backend: str, args: argparse.Namespace, corpus: Corpus) -> dict[str, Any]:
    load = os.getloadavg()[0]
    print(f"{backend}: ingesting {args.rows:,} attempts in batches of {args.batch:,} (load {load:.1f})", flush=True)
    with database(backend, args.workdir, args.pg_server) as url:
        if backend == "postgres":
            migrate.upgrade(make_engine(url))
        result, last_round = ingest(url, args.rows, args.batch, corpus)
        analyze(url)
        result["latency"] = latencies(url, last_round, args.repeat)
        result["export"] = exports(url, last_round, args.workdir)
        result["round_rows"] = min(args.rows, PROBLEMS * SAMPLES)
    result["load_before"], result["load_after"] = load, os.getloadavg()[0]
    return result


def print_table(results: dict[str, dict[str, Any]]) -> None:
    lines = [("measure", *results.keys())]
    first = next(iter(results.values()))
    lines.append(("attempts stored", *(f"{r['rows']:,}" for r in results.values())))
    lines.append(("ingest attempts/s (all)", *(f"{r['ingest_per_s']:,.0f}" for r in results.values())))
    lines.append(("ingest attempts/s (last round)", *(f"{r['last_round_per_s']:,.0f}" for r in results.values())))
    lines.append(("ingest wall / client CPU s", *(
        f"{r['ingest_wall_s']:.0f} / {r['ingest_client_cpu_s']:.0f}" for r in results.values())))
    for key, label in (("list", "rationales --round R --limit 100"), ("list_correct", "  ... --correct"),
                       ("list_problem", "  ... --problem ID"), ("list_run", "  ... without --round"),
                       ("cli_list", "  ... via CLI, --json"),
                       ("list_contains_miss", "  ... --contains TEXT (no match)")):
        lines.append((f"{label} p50 / p95 ms", *(
            _ms(r["latency"].get(key)) for r in results.values())))
    for key in first["export"]:
        lines.append((f"export round ({key}) s", *(
            f"{r['export'][key]['s']:.2f} ({r['export'][key]['rows']:,} rows)" for r in results.values())))
    lines.append(("load average before / after", *(
        f"{r['load_before']:.1f} / {r['load_after']:.1f}" for r in results.values())))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    for n, line in enumerate(lines):
        print(" | ".join(str(cell).ljust(w) for cell, w in zip(line, widths)))
        if n == 0:
            print("-|-".join("-" * w for w in widths))


def _ms(timing: dict[str, float] | None) -> str:
    return "-" if timing is None else f"{timing['p50_ms']:.1f} / {timing['p95_ms']:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2_000, help="attempts per insert_attempts call")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=30, help="timed repetitions per query")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "star-bench")
    parser.add_argument("--pg-server", default=os.environ.get("STAR_BENCH_PG", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument("--json-out", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument("--smoke", action="store_true",
                        help="Tiny sizes, so CI checks that the bench runs and prints its table (the numbers mean nothing).")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update({"rows": 2_000, "batch": 500, "repeat": 3})
    args.workdir.mkdir(parents=True, exist_ok=True)
    corpus = Corpus()
    results = {b: bench_backend(b, args, corpus) for b in args.backends.split(",")}
    print()
    print_table(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


def reprint(path: Path) -> None:
    """Print the table of a saved --json-out file again."""
    print_table(json.loads(path.read_text()))


if __name__ == "__main__":
    main()
