"""The star jobs on a cluster, each with its run's progress read from the store."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from star.jobs.submit import RUN_KEY, star_jobs


@dataclass(frozen=True)
class JobRow:
    submission_id: str
    run: str
    status: str
    round: int | None  # the run's latest round in the store (None: store unreachable or no round yet)
    phase: str | None  # that round's status: generating, training, done, ...
    start: str | None
    end: str | None
    message: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def job_rows(jobs: list[Any], progress: dict[str, tuple[int, str]]) -> list[JobRow]:
    rows = []
    for job in star_jobs(jobs):
        run = job.metadata[RUN_KEY]
        index, phase = progress.get(run, (None, None))
        rows.append(JobRow(submission_id=job.submission_id, run=run, status=str(job.status), round=index,
                           phase=phase, start=_time(job.start_time), end=_time(job.end_time),
                           message=job.message))
    return rows


def run_progress(database_url: str | None, runs: set[str]) -> dict[str, tuple[int, str]]:
    """run -> (latest round index, its status), from the store; {} when it cannot be read from here."""
    if not database_url or not runs:
        return {}
    from sqlalchemy.exc import SQLAlchemyError

    import db.store as store
    from db.engine import open_store, session_factory
    from db.errors import StoreError

    try:
        engine = open_store(database_url, pool_size=1, max_overflow=0, create=False)
    except (StoreError, SQLAlchemyError):
        return {}  # the cluster's store need not be reachable from the laptop
    progress: dict[str, tuple[int, str]] = {}
    try:
        with session_factory(engine)() as session:
            for name in sorted(runs):
                try:
                    rounds = store.get_run(session, name).rounds
                except StoreError:
                    continue  # the job has not created its run yet
                if rounds:
                    progress[name] = (rounds[-1].index, rounds[-1].status)
    except SQLAlchemyError:
        return {}
    finally:
        engine.dispose()
    return progress


def _time(epoch_ms: int | None) -> str | None:
    if not epoch_ms:
        return None
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
