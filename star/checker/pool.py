"""A pool of checker processes with a hard, kill-based timeout per check.

Usable inside Ray actors and threads: no signals, only processes. Each worker
handles its checks in order; a check that overruns its timeout gets its worker
killed (SIGKILL) and replaced by a fork of a preloaded forkserver, and its
verdict is "timeout". Results come back in input order.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import multiprocessing
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from star.checker.forms import AnswerType, apply_answer_type
from star.checker.limits import MAX_PREDICTION_CHARS
from star.checker.verdict import Verdict

_WORKER_MODULE = "star.checker.worker"
# A task is sent ahead to a busy worker only when small: a large one could
# fill the pipe and block the parent while the worker is stuck.
_PIPELINE_BYTES = 16_000
_PIPELINE_DEPTH = 2


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([_WORKER_MODULE])
        return ctx
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start processes without re-running the caller's main script in them.

    forkserver and spawn children normally re-import ``__main__`` from its path,
    so a script that calls `check` at top level without a ``__name__`` guard
    would run again in every worker (and recurse). Workers need nothing from
    ``__main__``, so its path is hidden while a worker starts.
    """
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
    try:
        if main is not None:
            main.__dict__.pop("__file__", None)
            main.__dict__["__spec__"] = None
        yield
    finally:
        if main is not None:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


def _serve(conn: Connection, memory_limit_mb: int | None) -> None:
    from star.checker.worker import serve

    serve(conn, memory_limit_mb)


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    inflight: collections.deque[int] = field(default_factory=collections.deque)
    head_started: float = 0.0


class Checker:
    """Checks (prediction, gold) pairs in `workers` processes, `timeout` seconds each.

    Use as a context manager, or call close(). Not for concurrent use from
    several threads at once (calls are serialized by a lock).
    """

    def __init__(self, workers: int = 1, timeout: float = 5.0, *, memory_limit_mb: int | None = 2048) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout}")
        self.timeout = float(timeout)
        self.memory_limit_mb = memory_limit_mb
        self._ctx = _context()
        self._lock = threading.Lock()
        self._closed = False
        self._workers: list[_Worker] = []
        self.restarts = 0
        for _ in range(workers):
            self._workers.append(self._start())

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_serve, args=(child, self.memory_limit_mb), daemon=True)
        with _main_module_hidden():
            process.start()
        child.close()
        return _Worker(process, parent)

    def _replace(self, index: int) -> None:
        old = self._workers[index]
        old.process.kill()
        old.process.join(timeout=5)
        old.conn.close()
        self._workers[index] = self._start()
        self.restarts += 1

    def check_many(self, pairs: Iterable[tuple[str, str]], timeout: float | None = None, *,
                   answer_type: AnswerType = "symbolic") -> list[Verdict]:
        """Verdicts for (prediction, gold) pairs, in input order.

        `answer_type="number"` marks an answer that is an expression rather than
        a number literal `not_a_number` (see star.checker.forms).
        """
        tasks = [_task(i, pair) for i, pair in enumerate(pairs)]
        with self._lock:
            if self._closed:
                raise RuntimeError("this Checker is closed; create a new one")
            verdicts = _Run(self, tasks, self.timeout if timeout is None else float(timeout)).run()
        return [apply_answer_type(v, answer_type) for v in verdicts]

    def same_answers(self, pairs: Iterable[tuple[str, str]], timeout: float | None = None) -> list[bool]:
        """Whether each (answer, other) pair of extracted final answers states the same answer.

        The same machinery as a check against gold, with `other` in the gold's
        place: "1/2" equals "0.5". A check that times out or crashes counts as
        different (majority voting then keeps the two answers apart).
        """
        return [v.correct for v in self.check_many(pairs, timeout)]

    def close(self) -> None:
        """Stop the workers; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for worker in self._workers:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
            for worker in self._workers:
                worker.process.join(timeout=1)
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join(timeout=5)
                worker.conn.close()

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()


def _task(index: int, pair: tuple[str, str]) -> tuple[int, str, str]:
    prediction, gold = pair
    if prediction is None:  # a failed generation has no answer, it is not an error
        prediction = ""
    if not isinstance(prediction, str) or not isinstance(gold, str):
        raise TypeError(f"pair {index}: prediction and gold must be str, got {type(prediction)}, {type(gold)}")
    return index, prediction[-MAX_PREDICTION_CHARS:], gold


class _Run:
    """One check_many call: feed workers, collect replies, kill overrunners."""

    def __init__(self, checker: Checker, tasks: list[tuple[int, str, str]], timeout: float) -> None:
        self.checker = checker
        self.tasks = {t[0]: t for t in tasks}
        self.pending = collections.deque(t[0] for t in tasks)
        self.results: dict[int, Verdict] = {}
        self.timeout = timeout

    def run(self) -> list[Verdict]:
        try:
            while len(self.results) < len(self.tasks):
                self._feed()
                self._collect()
                self._enforce_deadlines()
        except BaseException:
            # Interrupted mid-run: workers still busy would answer into the
            # next run, so they are replaced.
            for index, worker in enumerate(self.checker._workers):
                if worker.inflight:
                    worker.inflight.clear()
                    self.checker._replace(index)
            raise
        return [self.results[i] for i in range(len(self.tasks))]

    def _feed(self) -> None:
        for index, worker in enumerate(self.checker._workers):
            while self.pending and len(worker.inflight) < _PIPELINE_DEPTH:
                task = self.tasks[self.pending[0]]
                if worker.inflight and len(task[1]) + len(task[2]) > _PIPELINE_BYTES:
                    break
                try:
                    worker.conn.send(task)
                except OSError:  # the worker died between checks
                    self._fail_worker(index, "crashed")
                    break
                self.pending.popleft()
                if not worker.inflight:
                    worker.head_started = time.monotonic()
                worker.inflight.append(task[0])

    def _collect(self) -> None:
        busy = {w.conn: i for i, w in enumerate(self.checker._workers) if w.inflight}
        if not busy:
            return
        now = time.monotonic()
        deadline = min(self.checker._workers[i].head_started + self.timeout for i in busy.values())
        for conn in wait(list(busy), timeout=max(0.0, deadline - now)):
            index = busy[conn]
            worker = self.checker._workers[index]
            try:
                task_id, correct, status, extracted = conn.recv()
            except (EOFError, OSError):  # crashed (e.g. killed by the OS) mid-check
                self._fail_worker(index, "crashed")
                continue
            if task_id != worker.inflight[0]:  # cannot happen: workers answer in order
                raise RuntimeError(f"checker worker answered task {task_id}, expected {worker.inflight[0]}")
            self.results[task_id] = Verdict(correct, status, extracted)
            worker.inflight.popleft()
            worker.head_started = time.monotonic()

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for index, worker in enumerate(self.checker._workers):
            if worker.inflight and now - worker.head_started >= self.timeout:
                self._fail_worker(index, "timeout")

    def _fail_worker(self, index: int, status: str) -> None:
        """Give the worker's current check `status`, requeue the rest, replace it."""
        worker = self.checker._workers[index]
        if worker.inflight:
            self.results[worker.inflight.popleft()] = Verdict(False, status, None)
        self.pending.extendleft(reversed(worker.inflight))
        worker.inflight.clear()
        self.checker._replace(index)


_default: Checker | None = None
_default_lock = threading.Lock()


def default_checker() -> Checker:
    """The lazily started single-worker pool behind `star.checker.check`."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = Checker(workers=1)
            atexit.register(_default.close)
        return _default


def check(prediction: str, gold: str, *, timeout: float = 5.0, answer_type: AnswerType = "symbolic") -> Verdict:
    """Judge one prediction against one gold answer, killed after `timeout` seconds."""
    return default_checker().check_many([(prediction, gold)], timeout=timeout, answer_type=answer_type)[0]
