"""`star run`: claim the run, check the cluster, start workers, run the rounds.

The run's life in the store: `star run` takes the run's lease (one driver per
run) and marks it `running`; it ends `done`, `failed` (with the error text in
runs.error, whatever failed: model build, dataset, Ray, vLLM start-up, a
round) or `stopped` (SIGTERM or Ctrl-C), and the lease is given back.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import db.store as store
from db.engine import open_store, session_factory
from db.leases import Holder, Lease, LeaseHeld, acquire_lease, release_lease, take_over_dead, this_process
from db.models import Run, utcnow
from db.store import ProblemRow
from db.summaries import round_summaries
from db.urls import default_database_url, parse_url, sqlite_path
from star.config import StarConfig, set_dotted
from star.config.storage import is_uri
from star.errors import StarError
from star.progress import Progress
from star.run.base_model import planned_base_model, resolve_base_model
from star.run.lifecycle import LeaseKeeper, ray_job_id, sigterm_exits
from star.run.liveness import dead_holder_reason
from star.run.resume import check_resumable, stored_config
from star.storage.runs import local_output_dir
from star.tasks.base import Problem, Task
from star.tasks.snapshot import dataset_snapshot
from star.tracking.session import check_installed, run_params, tracking

ERROR_MAX_CHARS = 1000
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b.*:")


def default_run_name() -> str:
    return "run-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def load_run_config(run_name: str, database: str | None, overrides: dict[str, Any]) -> StarConfig:
    """`star run --resume RUN` without CONFIG: the run's stored config, plus the overrides."""
    url = database or default_database_url()
    engine = open_store(url, pool_size=1, max_overflow=0, create=False)
    try:
        with session_factory(engine)() as session:
            raw = dict(store.get_run(session, run_name).config)
    finally:
        engine.dispose()
    raw.update(run_name=run_name, database=url)
    for dotted, value in overrides.items():
        set_dotted(raw, dotted, value)
    return stored_config(raw, run_name)


def claim_run(sessions: sessionmaker[Session], config: StarConfig, run_name: str, holder: Holder, *,
              now: datetime, force: bool = False) -> Lease:
    """Create or reopen the run, refuse a config that changes its results, take its lease."""
    with sessions() as session, session.begin():
        run = store.get_or_create_run(session, run_name, config=config.model_dump(mode="json"),
                                      base_model=planned_base_model(config))
        check_resumable(stored_config(run.config, run_name), config, run_name)
        lease = _acquire(session, run, holder, now=now, timeout_s=config.lease.timeout_s, force=force)
        # The latest start's config, so a bare `star run --resume RUN` repeats it (e.g. --rounds).
        run.config = config.model_dump(mode="json")
        store.set_run_status(session, run, "running")
    return lease


def _acquire(session: Session, run: Run, holder: Holder, *, now: datetime, timeout_s: float, force: bool) -> Lease:
    """The run's lease: free, stale, forced, or held by a driver whose process is gone (star/run/liveness.py)."""
    try:
        return acquire_lease(session, run, holder, now=now, timeout_s=timeout_s, force=force)
    except LeaseHeld as held:
        reason = dead_holder_reason(held.info)
        lease = take_over_dead(session, run, holder, held.info, now=now, reason=reason) if reason else None
        if lease is None:
            raise
        return lease


def run_star(config: StarConfig, *, console: Console | None = None, skip_invalid: bool = False,
             show_progress: bool = True, force: bool = False,
             clock: Callable[[], datetime] = utcnow) -> str:
    """Run (or resume) `config.run_name`; returns the run name."""
    # Wide enough for the round table even when stdout is a file or a pipe.
    console = console or Console(width=None if sys.stdout.isatty() else 200)
    check_installed(config.tracking)  # a missing tracker package fails before any work
    progress = Progress(Console(stderr=True), enabled=show_progress)
    run_name = config.run_name or default_run_name()
    url = config.database or default_database_url()
    engine = open_store(url, pool_size=config.store.pool_size, max_overflow=config.store.max_overflow)
    sessions = session_factory(engine)
    lease = claim_run(sessions, config, run_name, this_process(ray_job_id()), now=clock(), force=force)
    warn = progress.warn  # said even without progress, on whole lines: logs are grepped
    if lease.took_over is not None:  # always said, progress or not: another driver was displaced
        because = f" ({lease.reason})" if lease.reason else ""
        warn(f"run {run_name}: took over the lease of {lease.took_over.describe()}{because}")
    keeper = LeaseKeeper(sessions, lease, config.lease.heartbeat_s, clock=clock, on_error=warn).start()
    status, error = "failed", None
    with sigterm_exits():  # SIGTERM -> SystemExit here, so the `finally` below marks and releases
        try:
            _drive(config, sessions, run_name, url, progress, skip_invalid)
            status = "done"
        except (KeyboardInterrupt, SystemExit):
            status = "stopped"
            if keeper.lost:
                raise StarError(f"run {run_name!r} was taken over by another driver; this one stopped") from None
            raise
        except BaseException as exc:
            error = error_summary(exc)
            raise
        finally:
            keeper.stop()
            if not keeper.lost:
                _finish(sessions, lease, status, error)
    report_run(console, sessions, run_name, plot_dir=_plot_dir(url, config))
    return run_name


def _drive(config: StarConfig, sessions: sessionmaker[Session], run_name: str, url: str,
           progress: Progress, skip_invalid: bool) -> None:
    """Everything after the lease: model, problems, Ray, preflight, workers, rounds."""
    from star.loop.context import RunContext
    from star.loop.rounds import run_rounds
    from star.run.preflight import check_model_path
    from star.run.controls import control_examples
    from star.run.ray_start import init_ray
    from star.run.workers import start_workers, stop_workers
    from star.tasks import build_task

    base_model = resolve_base_model(config, progress)
    check_model_path(base_model)
    task = build_task(config.task, skip_invalid=skip_invalid)
    with sessions() as session, session.begin():
        train = store_problems(session, task, "train", task.train_problems())
        held_out = store_problems(session, task, "eval", task.eval_problems())
        digest, n_rows = dataset_snapshot(train.values())  # a nightly run's pool may have grown
        store.record_dataset_snapshot(session, store.get_run(session, run_name), through_round=config.rounds,
                                      dataset_hash=digest, rows=n_rows)
    progress.log(f"run {run_name}: {len(train)} training problems, {len(held_out)} held-out, "
                 f"model {base_model}, store {url}")
    init_ray(config, log=progress.log)
    # absolute: trainers on other nodes write the same path; a URI stays as written
    storage = config.storage if is_uri(config.storage) else str(Path(config.storage).resolve())
    preflight_cluster(parse_url(url).get_backend_name(), storage)
    with progress.spinner("starting generation workers (vLLM)"):
        workers = start_workers(config, base_model, task)
    try:
        with tracking(config.tracking, run_name=run_name, storage=local_output_dir(storage, url),
                      params=run_params(config, url), warn=progress.warn) as tracker:
            ctx = RunContext(config=config, task=task, sessions=sessions, run_name=run_name,
                             base_model=base_model, storage=storage, train=train, held_out=held_out,
                             workers=workers, progress=progress, tracker=tracker,
                             control_examples=control_examples(config, task, train))
            run_rounds(ctx)
    finally:
        try:
            stop_workers(workers)
        except Exception as exc:  # noqa: BLE001 - never hide why the run ended behind a cleanup error
            progress.log(f"could not stop the workers cleanly ({error_summary(exc)})")


def preflight_cluster(backend: str, storage: str) -> None:
    """The checks that need Ray up: a shared store and a shared checkpoint folder, or a storage URI
    this driver can reach (GPU requests are checked by start_workers, which every command that
    starts engines goes through)."""
    import ray

    from star.run.preflight import (
        alive_nodes,
        check_storage_reachable,
        check_storage_visible,
        check_store_for_cluster,
    )

    nodes = alive_nodes()
    check_store_for_cluster(backend, nodes)
    if is_uri(storage):
        check_storage_reachable(storage)
    else:
        check_storage_visible(Path(storage), nodes, ray.get_runtime_context().get_node_id())


def _finish(sessions: sessionmaker[Session], lease: Lease, status: str, error: str | None) -> None:
    with sessions() as session, session.begin():
        run = session.scalars(select(Run).where(Run.id == lease.run_id)).one()
        store.set_run_status(session, run, status, error=error)
        release_lease(session, lease)


def error_summary(exc: BaseException) -> str:
    """One line for runs.error: the message's first line and, for a traceback-carrying
    Ray error, its last line (the root cause raised inside the actor)."""
    plain = _ANSI.sub("", str(exc))  # Ray colours actor names in its messages
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    text = lines[0] if len(lines) == 1 else f"{lines[0]} ... {_root_cause(lines[1:])}"
    if not isinstance(exc, StarError) and type(exc).__name__ not in text:
        text = f"{type(exc).__name__}: {text}"
    return text[:ERROR_MAX_CHARS]


def _root_cause(lines: list[str]) -> str:
    """The innermost `SomeError: message` line of a traceback and the lines that detail it
    (pydantic puts the reason on the next lines), without pydantic's help-link line."""
    starts = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    if not starts:
        return lines[-1]
    detail = [line for line in lines[starts[-1]:starts[-1] + 4] if not line.startswith("For further information")]
    return " ".join(detail)


def report_run(console: Console, sessions, run_name: str, plot_dir: Path) -> Path:
    from star.report.table import plot_learning_curve, print_round_table

    with sessions() as session:
        summaries = round_summaries(session, store.get_run(session, run_name))
    print_round_table(console, summaries, title=f"STaR run {run_name}")
    png = plot_learning_curve(summaries, plot_dir / f"{run_name}-learning-curve.png", title=f"STaR: {run_name}")
    console.print(f"learning curve: {png}")
    console.print(f"every metric, sample rationales and lineage on one page: star report {run_name}")
    return png


def _plot_dir(url: str, config: StarConfig) -> Path:
    """Next to the SQLite file; for a server database, in the storage folder (a storage URI:
    star_runs in the working directory)."""
    path = sqlite_path(parse_url(url))
    return Path(path).resolve().parent if path else local_output_dir(config.storage, url)


def store_problems(session, task: Task, split: str, problems: list[Problem]) -> dict[int, Problem]:
    rows = [ProblemRow(p.uid, p.question, p.gold, dict(p.metadata)) for p in problems]
    ids = store.upsert_problems(session, task.dataset, split, rows)
    return {ids[p.uid]: p for p in problems}
