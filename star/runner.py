"""`star run`: set up store, task, model and workers, then run the rounds."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from rich.console import Console

import db.store as store
from db.engine import open_store, session_factory
from db.store import ProblemRow
from db.urls import default_database_url, sqlite_path, parse_url
from star.config import TINY_MODEL, StarConfig
from star.orchestrator import RunContext, run_rounds
from star.progress import Progress
from star.report import plot_learning_curve, print_round_table
from star.tasks import build_task
from star.tasks.base import Problem, Task


def resolve_base_model(config: StarConfig, progress: Progress) -> str:
    """'tiny' builds (once, cached) the embedded model; a known name (star models list) is
    fetched and converted once; anything else is an HF name or path."""
    if config.model != TINY_MODEL:
        from star.models import known_model, prepare_model

        if known_model(config.model) is None:
            return config.model
        with progress.spinner(f"preparing model {config.model} (first use: fetch and convert)"):
            return str(prepare_model(config.model, log=progress.log))
    from star.tiny_model import ensure_tiny_model, tiny_model_path

    target = tiny_model_path()
    if not (target / "config.json").exists():
        progress.log(f"building the tiny arithmetic model once (cached in {target.parent}) ...")
    with progress.spinner("seed-training the tiny model"):
        return str(ensure_tiny_model(progress=False))


def default_run_name() -> str:
    return "run-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def run_star(config: StarConfig, *, console: Console | None = None, skip_invalid: bool = False,
             show_progress: bool = True) -> str:
    """Run (or resume) `config.run_name`; returns the run name."""
    # Wide enough for the round table even when stdout is a file or a pipe.
    console = console or Console(width=None if sys.stdout.isatty() else 200)
    progress = Progress(Console(stderr=True), enabled=show_progress)
    run_name = config.run_name or default_run_name()
    url = config.database or default_database_url()
    engine = open_store(url, pool_size=config.store.pool_size, max_overflow=config.store.max_overflow)
    sessions = session_factory(engine)
    task = build_task(config.task, skip_invalid=skip_invalid)
    base_model = resolve_base_model(config, progress)
    with sessions() as session, session.begin():
        run = store.get_or_create_run(session, run_name, config=config.model_dump(mode="json"),
                                      base_model=base_model)
        store.set_run_status(session, run, "running")
        train = _store_problems(session, task, "train", task.train_problems())
        held_out = _store_problems(session, task, "eval", task.eval_problems())
    progress.log(f"run {run_name}: {len(train)} training problems, {len(held_out)} held-out, "
                 f"model {base_model}, store {url}")

    from star.cluster import init_ray, start_workers, stop_workers

    init_ray(config)
    with progress.spinner("starting generation workers (vLLM)"):
        workers = start_workers(config, base_model, task)
    ctx = RunContext(config=config, task=task, sessions=sessions, run_name=run_name,
                     base_model=base_model, storage=Path(config.storage), train=train, held_out=held_out,
                     workers=workers, progress=progress, loaded_model=base_model)
    status = "failed"
    try:
        run_rounds(ctx)
        status = "done"
    finally:
        stop_workers(workers)
        with sessions() as session, session.begin():
            store.set_run_status(session, store.get_run(session, run_name), status)
    report_run(console, sessions, run_name, plot_dir=_plot_dir(url, config))
    return run_name


def report_run(console: Console, sessions, run_name: str, plot_dir: Path) -> Path:
    with sessions() as session:
        summaries = store.round_summaries(session, store.get_run(session, run_name))
    print_round_table(console, summaries, title=f"STaR run {run_name}")
    png = plot_learning_curve(summaries, plot_dir / f"{run_name}-learning-curve.png", title=f"STaR: {run_name}")
    console.print(f"learning curve: {png}")
    return png


def _plot_dir(url: str, config: StarConfig) -> Path:
    """Next to the SQLite file; for a server database, in the run storage folder."""
    path = sqlite_path(parse_url(url))
    return Path(path).resolve().parent if path else Path(config.storage)


def _store_problems(session, task: Task, split: str, problems: list[Problem]) -> dict[int, Problem]:
    rows = [ProblemRow(p.uid, p.question, p.gold, dict(p.metadata)) for p in problems]
    ids = store.upsert_problems(session, task.dataset, split, rows)
    return {ids[p.uid]: p for p in problems}
