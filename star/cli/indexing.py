"""Bringing the full-text search index up to date from the command line (db/search_index.py).

`star db index` (once, or `--follow` as a sidecar), `star db upgrade` after
revision 0007 and `star rationales --search` all call `index_all`: batches of
attempts, one transaction each, so an interrupted backfill resumes where it
stopped. On PostgreSQL several indexers may run at once (`--jobs`): each takes
its own batches from the queue (SKIP LOCKED), so the server's cores share the
work of parsing text.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import click

from star.cli.common import db_option
from star.progress import Progress

if TYPE_CHECKING:  # db/ pulls in SQLAlchemy; commands import it when they run
    from sqlalchemy.orm import Session, sessionmaker


def index_all(sessions: sessionmaker[Session], *, progress: Progress, batch: int | None = None,
              jobs: int = 1) -> int:
    """Index every attempt not yet searchable; returns how many were indexed.

    `jobs` indexers run in threads on PostgreSQL (the session factory's pool must hold
    that many connections); SQLite has one writer at a time, so it always uses one.
    """
    from db.search_index import INDEX_BATCH, dialect_of, index_pending, pending_count

    with sessions() as session:
        pending = pending_count(session)
        workers = 1 if dialect_of(session) == "sqlite" else max(1, jobs)
    if pending == 0:
        return 0
    lock = threading.Lock()
    done = 0
    with progress.bar("indexing attempts for search", total=pending) as advance:
        def drain() -> None:
            nonlocal done
            while True:
                with sessions.begin() as session:
                    taken = index_pending(session, batch=batch or INDEX_BATCH)
                if taken == 0:
                    return
                with lock:
                    done += taken
                    advance(taken)

        with ThreadPoolExecutor(workers) as pool:
            for future in [pool.submit(drain) for _ in range(workers)]:
                future.result()
    return done


@click.command("index")
@db_option
@click.option("--follow", is_flag=True, help="Keep indexing new attempts every --interval seconds (a sidecar).")
@click.option("--interval", type=click.FloatRange(min=1.0), default=60.0, show_default=True,
              help="Seconds between passes with --follow.")
@click.option("--batch", type=click.IntRange(min=1), default=2_000, show_default=True,
              help="Attempts indexed per transaction.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Indexers in parallel (PostgreSQL; SQLite always uses one).")
def index_cmd(db_url: str | None, follow: bool, interval: float, batch: int, jobs: int) -> None:
    """Index stored attempts for full-text search (`star rationales --search`, `star serve`)."""
    from db.engine import open_store, session_factory
    from db.urls import default_database_url

    engine = open_store(db_url or default_database_url(), pool_size=jobs, max_overflow=0, create=False)
    try:
        sessions = session_factory(engine)
        while True:
            started = time.monotonic()
            done = index_all(sessions, progress=Progress(enabled=not follow), batch=batch, jobs=jobs)
            if done or not follow:
                click.echo(f"indexed {done} attempts for search in {time.monotonic() - started:.1f} s")
            if not follow:
                return
            time.sleep(interval)
    finally:
        engine.dispose()
