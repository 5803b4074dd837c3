"""A store full of hostile text and a real `star serve` HTTP server on it, for the web view's tests.

The store is a SQLite file written through db/store.py: a normal-looking run `demo` (three
rounds of arithmetic, a flip, a rationalized attempt, a planted rare word) and a run whose name,
problems and completions are markup (`<script>`, `onerror=`). The server is uvicorn on a free
loopback port, in a thread, serving create_app() on a read-only engine, as `star serve` does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from db.engine import open_store, session_factory
from db.readonly import open_readonly
from db.search_index import index_pending
from db.store import (
    AttemptRow,
    ProblemRow,
    get_or_create_round,
    get_or_create_run,
    insert_attempts,
    record_evaluation,
    update_round,
    upsert_problems,
)
from star.serve.app import create_app

HOSTILE_RUN = "<script>alert('run')</script>"
SCRIPT = "<script>alert('completion')</script>"
ONERROR = '<img src=x onerror="alert(1)">'
PLANTED = "the quokka carries the one"
# problem -> state per round 1..3 (S solved, H hint-only, U unsolved)
STATES = {"p0": "SSS", "p1": "UHS", "p2": "UUU", "p3": "HUS", "p4": "SSU"}


def _row(round_id: int, problem_id: int, kind: str, k: int, ok: bool, completion: str) -> AttemptRow:
    hint = " (hint: the answer is 7)" if kind == "rationalized" else ""
    return AttemptRow(round_id, problem_id, kind, k, f"Q: 3 + 4 = ?{hint}\nA:", "Q: 3 + 4 = ?\nA:", completion,
                      "7" if ok else "8", "correct" if ok else "incorrect", ok, ok and kind != "eval", None, 9, 20,
                      "tiny")


def _round_rows(rid: int, train: dict[str, int], index: int) -> list[AttemptRow]:
    rows = []
    for ext, states in STATES.items():
        state = states[index - 1]
        for k in range(2):
            ok = state == "S" and k == 0
            rows.append(_row(rid, train[ext], "direct", k, ok, f" 3 + 4: add the units, 3 + 4 = {7 if ok else 8}. "
                                                                f"Answer: {7 if ok else 8}"))
        if state in "HU":
            rows.append(_row(rid, train[ext], "rationalized", 0, state == "H", " carry nothing; 3 + 4 = 7. Answer: 7"))
    return rows


def seed(url: str) -> None:
    engine = open_store(url)
    factory = session_factory(engine)
    with factory.begin() as s:
        run = get_or_create_run(s, "demo", config={"model": "tiny"}, base_model="tiny")
        train = upsert_problems(s, "arith", "train", [ProblemRow(p, f"{p}: 3 + 4 = ?", "7", {"digits": 1 + n % 2})
                                                      for n, p in enumerate(STATES)])
        held = upsert_problems(s, "arith", "eval", [ProblemRow("e0", "5 + 2 = ?", "7", {"digits": 1})])
        for index in range(4):
            rnd = get_or_create_round(s, run, index)
            rows = [_row(rnd.id, held["e0"], "eval", 0, index >= 2, f" 5 + 2 = {7 if index >= 2 else 6}")]
            if index:
                rows += _round_rows(rnd.id, train, index)
            if index == 3:
                rows.append(_row(rnd.id, train["p0"], "direct", 2, True, f" {PLANTED}. Answer: 7"))
            insert_attempts(s, rows)
            record_evaluation(s, rnd, split="eval", metric="accuracy", value=0.2 * index + 0.1)
            update_round(s, rnd, status="done", timings={"generate": 3.0, "train": 5.0} if index else {},
                         counts={"attempted": 10, "accepted_direct": 3, "accepted_rationalized": 1} if index else {})
        bad = get_or_create_run(s, HOSTILE_RUN, config={"note": SCRIPT}, base_model=ONERROR)
        odd = upsert_problems(s, "<b>set</b>", "train", [ProblemRow(f"{ONERROR}/1", f"{SCRIPT} = ?", ONERROR,
                                                                     {"digits": SCRIPT})])
        rnd = get_or_create_round(s, bad, 1)
        insert_attempts(s, [_row(rnd.id, odd[f"{ONERROR}/1"], "direct", 0, True, f"{SCRIPT} {ONERROR} quokka")])
    while True:
        with factory.begin() as s:
            if index_pending(s) == 0:
                break
    engine.dispose()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('serve')}/star.db"
    seed(url)
    return url


@dataclass
class Server:
    url: str
    app: object


def start(app: object) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def serve(store: str) -> Iterator[Callable[..., Server]]:
    """Start a server on the store: serve(token=None) -> Server; all are stopped after the module."""
    running: list[tuple[uvicorn.Server, threading.Thread, object]] = []

    def make(token: str | None = None) -> Server:
        engine = open_readonly(store)
        app = create_app(engine, token=token, label="sqlite:///star.db")
        server, thread, url = start(app)
        running.append((server, thread, engine))
        return Server(url, app)

    yield make
    for server, thread, engine in running:
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


@pytest.fixture(scope="module")
def server(serve: Callable[..., Server]) -> Server:
    return serve()


@pytest.fixture(name="screenshot_dir")
def screenshot_dir_fixture(tmp_path: Path) -> Path:
    """Where the browser test saves its screenshots: $STAR_SCREENSHOT_DIR (e.g. docs) or a temp folder."""
    import os

    folder = os.environ.get("STAR_SCREENSHOT_DIR")
    return Path(folder) if folder else tmp_path
