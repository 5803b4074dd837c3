"""The driver's hold on its run: lease heartbeat, SIGTERM, Ray job identity.

`star run` takes the run's lease (db/leases.py) before any work, keeps it fresh
from a daemon thread, and gives it back in the run's `finally`, which also runs
on SIGTERM (what `ray job stop` and Kubernetes send first) because the handler
turns the signal into SystemExit in the main thread.
"""

from __future__ import annotations

import _thread
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import NoReturn

from sqlalchemy.orm import Session, sessionmaker

from db.leases import Lease, heartbeat
from db.models import utcnow

# Exit status of a process stopped by SIGTERM, as a shell reports it.
SIGTERM_EXIT = 128 + signal.SIGTERM
# How the heartbeat thread stops the main thread once the lease is lost. Not SIGINT: a driver
# started in the background by a non-interactive shell (`star run &` in a script, nohup) inherits
# SIGINT ignored, and `_thread.interrupt_main()` then does nothing, so a taken-over driver ran on.
TAKEOVER_SIGNAL = signal.SIGUSR2


def ray_job_id(environ: dict[str, str] | None = None) -> str | None:
    """The Ray Jobs submission id when this process is a job's driver, else None.

    Ray's job supervisor hands the driver its job config (with the submission id
    in its metadata) in RAY_JOB_CONFIG_JSON_ENV_VAR; the driver's Ray job id
    only exists after ray.init, and the lease is taken before that.
    """
    raw = (environ if environ is not None else os.environ).get("RAY_JOB_CONFIG_JSON_ENV_VAR")
    if not raw:
        return None
    try:
        metadata = json.loads(raw).get("metadata") or {}
    except (ValueError, AttributeError):
        return None
    job = metadata.get("job_submission_id")
    return str(job) if job else None


class LeaseKeeper:
    """Refreshes a lease every `interval_s` from a daemon thread.

    If the lease turns out to be someone else's (taken over with --force, or
    after this driver stalled past the timeout), it interrupts the main thread:
    two drivers must not write the same run. A failed heartbeat (database
    briefly down) is retried at the next interval.
    """

    def __init__(self, sessions: sessionmaker[Session], lease: Lease, interval_s: float,
                 clock: Callable[[], datetime] = utcnow, on_error: Callable[[str], None] = print) -> None:
        self.sessions, self.lease, self.interval_s, self.clock = sessions, lease, interval_s, clock
        self.on_error = on_error
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="star-lease-heartbeat", daemon=True)

    def start(self) -> LeaseKeeper:
        self._previous_handler = None
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(TAKEOVER_SIGNAL, _interrupt_for_takeover)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        if self._previous_handler is not None:
            signal.signal(TAKEOVER_SIGNAL, self._previous_handler)
            self._previous_handler = None

    def beat(self) -> bool:
        """One heartbeat; False when the lease is no longer ours."""
        with self.sessions() as session, session.begin():
            return heartbeat(session, self.lease, now=self.clock())

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                ours = self.beat()
            except Exception as exc:  # noqa: BLE001 - a store hiccup must not kill the run
                self.on_error(f"lease heartbeat of run {self.lease.run_name!r} failed ({exc}); retrying")
                continue
            if not ours:
                self.lost = True
                self.on_error(f"run {self.lease.run_name!r} was taken over by another driver; stopping")
                # Runs the handler start() installed in the main thread (no OS signal is sent).
                _thread.interrupt_main(TAKEOVER_SIGNAL if self._previous_handler is not None else signal.SIGINT)
                return


def _interrupt_for_takeover(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt("the run's lease was taken over")


@contextmanager
def sigterm_exits() -> Iterator[None]:
    """While inside, the first SIGTERM raises SystemExit in the main thread, so `finally` blocks run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, _frame: object) -> None:
        # Once: a second SIGTERM must not abort the cleanup the first one started.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(SIGTERM_EXIT)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_as_stopped() -> NoReturn:
    """Leave as a SIGTERM'd process does (status 143), once the run is recorded as stopped.

    Left to the interpreter's atexit hooks, the Ray teardown can race Ray's own
    background threads, and Ray's core worker then quick-exits with status 1 (seen
    on a loaded CI machine; ray PR #19115 describes the race), so a clean stop looked
    like a crash to whatever supervises the driver. Shutting Ray down here, while
    nothing else runs, and leaving with os._exit makes the status deterministic.
    """
    try:
        import ray

        if ray.is_initialized():
            ray.shutdown()  # also stops the local Ray this driver started, if it started one
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(SIGTERM_EXIT)
