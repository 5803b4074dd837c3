"""What bench/store.py times on a loaded store: queries, the web view over HTTP, exports and their memory.

Every latency is p50 / p95 over repeated runs after one warm-up, each in a new
session (queries) or a new request on a kept-alive connection (web pages).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from db.engine import open_store, session_factory
from db.export import export
from db.flips import run_flips
from db.queries import RationaleFilter, list_rationales
from db.search import search_rationales
from db.story import problem_story

REPO = Path(__file__).resolve().parents[2]
STORY_PROBLEM = "b77"


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()  # warm the page cache and SQLAlchemy's statement cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"p50_ms": statistics.median(samples), "p95_ms": samples[int(0.95 * (len(samples) - 1))]}


def query_latencies(url: str, round_index: int, repeat: int) -> dict[str, Any]:
    """The store's read paths: listing, a story, flips and full-text search (CLI in-process too)."""
    from click.testing import CliRunner

    from star.cli import cli, register_commands

    register_commands()
    engine = open_store(url)
    factory = session_factory(engine)

    def with_session(fn: Callable[[Any], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with factory() as s:
                return fn(s)
        return run

    def listing(**kw: Any) -> Callable[[], Any]:
        flt = RationaleFilter(**{"run": "bench", "round_index": round_index, "limit": 100, **kw})
        return with_session(lambda s: list_rationales(s, flt))

    def search(words: str, **kw: Any) -> Callable[[], Any]:
        flt = RationaleFilter(**{"run": "bench", "search": words, "limit": 20, **kw})
        return with_session(lambda s: search_rationales(s, flt))

    def cli_list() -> None:
        args = ["rationales", "bench", "--round", str(round_index), "--limit", "100", "--json", "--db", url]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output

    out = {
        "list": timed(listing(), repeat),
        "list_accepted": timed(listing(accepted=True), repeat),
        "list_problem": timed(listing(problem=STORY_PROBLEM), repeat),
        "list_run": timed(listing(round_index=None), repeat),
        "list_contains_miss": timed(listing(contains="no such text"), 3),  # worst case: scans the round
        "cli_list": timed(cli_list, max(5, repeat // 3)),
        "story": timed(with_session(lambda s: problem_story(s, "bench", STORY_PROBLEM, split="train")), repeat),
        "flips_run": timed(with_session(lambda s: run_flips(s, "bench")), max(5, repeat // 3)),
        "flips_run_live": timed(with_session(lambda s: run_flips(s, "bench", first=0)), max(5, repeat // 3)),
        "flips_last": timed(with_session(lambda s: run_flips(s, "bench", first=round_index - 1)), repeat),
        "search_rare": timed(search("quokka"), repeat),
        "search_common": timed(search("carry"), repeat),
        "search_common_round": timed(search("carry", round_index=round_index, accepted=True), repeat),
    }
    engine.dispose()
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def web_latencies(url: str, repeat: int) -> dict[str, Any]:
    """`star serve` in its own process; its run page and a problem page timed over HTTP."""
    import httpx

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "star", "serve", "--db", url, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            _wait_for(client, server)

            def page(path: str, **params: str) -> Callable[[], None]:
                def fetch() -> None:
                    response = client.get(path, params=params)
                    assert response.status_code == 200, response.text[:500]
                return fetch

            return {"web_run": timed(page("/run", run="bench"), repeat),
                    "web_problem": timed(page("/problem", run="bench", id=STORY_PROBLEM, split="train"), repeat)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for(client: Any, server: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"star serve exited: {server.stderr.read().decode()[-2000:]}")
        try:
            if client.get("/api/runs").status_code == 200:
                return
        except httpx.TransportError:  # not listening yet
            time.sleep(0.2)
            continue
        time.sleep(0.2)
    raise RuntimeError("star serve did not answer within 120 s")


def exports(url: str, round_index: int, workdir: Path) -> dict[str, Any]:
    """A full round through db.export in every format, and the DPO pairs."""
    engine = open_store(url)
    factory = session_factory(engine)
    out: dict[str, Any] = {}
    for fmt, pairs in (("jsonl", False), ("parquet", False), ("hf", False), ("parquet", True)):
        with tempfile.TemporaryDirectory(dir=workdir) as scratch:
            start = time.perf_counter()
            with factory() as s:
                n = export(s, "bench", round_index=round_index, fmt=fmt, out=Path(scratch) / f"round.{fmt}",
                           pairs=pairs)
            out[f"{fmt}{'_pairs' if pairs else ''}"] = {"rows": n, "s": time.perf_counter() - start}
    engine.dispose()
    return out


def export_memory(url: str, round_index: int, workdir: Path, whole_run: bool = True) -> dict[str, Any]:
    """Peak RSS of `star export` (its own process) for one round and (whole_run) the whole run, as JSONL."""
    out = {}
    runs = [("round", ["--round", str(round_index)])] + ([("run", [])] if whole_run else [])
    for label, extra in runs:
        with tempfile.TemporaryDirectory(dir=workdir) as scratch:
            target = Path(scratch) / "out.jsonl"
            args = [sys.executable, "-m", "star", "export", "bench", *extra, "--format", "jsonl", "--out", str(target),
                    "--db", url]
            start = time.perf_counter()
            child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode != 0:
                raise RuntimeError(f"star export failed: {child.stderr.read().decode()[-2000:]}")
            out[label] = {"s": time.perf_counter() - start, "peak_rss_mb": usage.ru_maxrss / 1024,
                          "bytes": target.stat().st_size}
    return out


def disk_bytes(url: str) -> int:
    """The database's size on disk: the SQLite file with its WAL, or pg_database_size."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        return sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))
    from sqlalchemy import text

    from db.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        size = int(conn.scalar(text("SELECT pg_database_size(current_database())")))
    engine.dispose()
    return size


def snapshot_run_flips(factory: Any, run_name: str) -> float:
    """Seconds to snapshot a run's flips, what the loop does when a round finishes (db.flips)."""
    from db.flips import snapshot_flips
    from db.store import get_run

    started = time.perf_counter()
    with factory.begin() as s:
        snapshot_flips(s, get_run(s, run_name))
    return time.perf_counter() - started


def flips_at_scale(url: str, rounds: int, repeat: int) -> dict[str, Any]:
    """Flips of a run of `rounds` rounds over the bench's training problems, as problem_rounds rows only.

    What `rounds` rounds of 100,000 attempts leave in problem_rounds (one row per round and
    problem), written directly: the flips query reads nothing else, so this times it at the size
    of a many-million-attempt run without storing those attempts.
    """
    from sqlalchemy import text

    from db.store import get_or_create_round, get_or_create_run

    engine = open_store(url)
    factory = session_factory(engine)
    with factory.begin() as s:
        run = get_or_create_run(s, "flips-scale", config={}, base_model="bench")
        for index in range(1, rounds + 1):
            round_id = get_or_create_round(s, run, index).id
            # A problem's state from a hash of (problem, round); more are solved as rounds go on.
            s.execute(text(
                "INSERT INTO problem_rounds (round_id, problem_id, run_id, direct, direct_correct, direct_accepted, "
                "rationalized, rationalized_correct, rationalized_accepted, eval, eval_correct, eval_sample, "
                "eval_sample_correct) SELECT :round_id, id, :run_id, 10, s.ok, s.ok, 1 - s.ok, s.hint, s.hint, 0, 0, 0, 0 "
                "FROM (SELECT id, CASE WHEN (id * 7919 + :r * 104729) % 100 < 30 + :r / 2 THEN 1 ELSE 0 END AS ok, "
                "CASE WHEN (id * 31 + :r * 17) % 7 = 0 THEN 1 ELSE 0 END AS hint FROM problems "
                "WHERE split = 'train' AND dataset = 'bench') s"), {"round_id": round_id, "run_id": run.id, "r": index})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")  # fresh statistics, as after any bulk load
    snapshot_s = snapshot_run_flips(factory, "flips-scale")  # as the last round's end does

    def flips(**window: int) -> Callable[[], Any]:
        def run() -> Any:
            with factory() as s:
                return run_flips(s, "flips-scale", **window)
        return run

    out = {"flips_scale_run": timed(flips(), max(3, repeat // 6)),
           "flips_scale_live": timed(flips(first=1), max(3, repeat // 6)),
           "flips_scale_last": timed(flips(first=rounds - 1), max(5, repeat // 3)),
           "flips_scale_snapshot_s": snapshot_s}
    engine.dispose()
    return out
