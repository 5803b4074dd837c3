"""`star scheduler`: tick in a loop until SIGTERM, logging every decision.

Firings run in threads so one long round does not hold up another schedule's
slot. On SIGTERM (systemd stop, Kubernetes pod deletion) the loop stops
claiming, running children are stopped, and their firings are recorded as
failed with an immediate retry, which the next scheduler to start picks up;
the run itself resumes from the store.
"""

from __future__ import annotations

import logging
import signal
import threading

from star.schedule.ticker import Scheduler

log = logging.getLogger("star.scheduler")


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set `stop` instead of killing the process mid-write."""
    def handler(signum: int, _frame: object) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def serve(scheduler: Scheduler, *, poll_s: float = 30.0) -> None:
    """Tick until `scheduler.stop` is set, then wait for running firings to wind down."""
    log.info("scheduler started as %s (polling every %g s)", scheduler.owner, poll_s)
    running: list[threading.Thread] = []
    while not scheduler.stop.is_set():
        running = [t for t in running if t.is_alive()]
        try:
            running += scheduler.tick(wait=False)
            wake = scheduler.next_wake(poll_s)
        except Exception:  # noqa: BLE001 - e.g. the database is briefly down: log and try again
            log.exception("tick failed; trying again in %g s", poll_s)
            wake = poll_s
        scheduler.stop.wait(wake)
    alive = [t for t in running if t.is_alive()]
    if alive:
        log.info("stopping %d running firing(s)", len(alive))
    for thread in alive:
        thread.join()
    log.info("scheduler stopped")
