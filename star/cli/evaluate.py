"""`star eval`: evaluate a recorded checkpoint or a model folder again, with the current settings."""

from __future__ import annotations

from pathlib import Path

import click

from star.cli.common import json_option, print_json


@click.command("eval")
@click.argument("run")
@click.option("--round", "round_index", type=int, default=None,
              help="Evaluate this round's checkpoint (default: the last round that has one).")
@click.option("--model", default=None, metavar="PATH",
              help="Evaluate this model folder instead (metrics are stored on --round, or the last round).")
@click.option("--split", type=click.Choice(["eval", "train"]), default="eval", show_default=True,
              help="Problems to evaluate on: the held-out split or the training pool.")
@click.option("--name", default=None,
              help="Store the metrics as split SPLIT@NAME (default: reeval, or the --model folder's name).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Settings from this config file instead of the run's stored config.")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Override a config field, e.g. --set evaluation.samples=16.")
@click.option("--db", "database", metavar="URL", help="Store URL (default: $STAR_DATABASE_URL or sqlite:///star.db).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@json_option
def eval_command(run: str, round_index: int | None, model: str | None, split: str, name: str | None,
                 config_path: Path | None, sets: tuple[str, ...], database: str | None, quiet: bool,
                 as_json: bool) -> None:
    """Evaluate RUN's checkpoint (or --model PATH) again: greedy accuracy, maj@k, pass@k and, with
    evaluation.verifier, best-of-N and weighted best-of-N; stored on the round as SPLIT@NAME, so the
    round's own numbers stay as they were."""
    from rich.console import Console

    from db.engine import open_store, session_factory
    from db.urls import default_database_url
    from star.cli.options import parse_sets
    from star.config import load_config
    from star.progress import Progress
    from star.run.driver import load_run_config
    from star.run.reeval import reevaluate, resolve_target

    url = database or default_database_url()
    overrides = parse_sets(sets)
    if config_path is not None:
        config = load_config(config_path, {**overrides, "database": url})
    else:
        config = load_run_config(run, url, overrides)
    engine = open_store(url, pool_size=1, max_overflow=0, create=False)
    try:
        sessions = session_factory(engine)
        with sessions() as session:
            target = resolve_target(session, run, round_index=round_index, model=model, split=split, name=name)
        progress = Progress(Console(stderr=True), enabled=not (quiet or as_json))
        outcome = reevaluate(config, run, sessions, target, split=split, progress=progress)
    finally:
        engine.dispose()
    if as_json:
        print_json({"run": run, "round": outcome.target.round_index, "model": outcome.target.model,
                    "split": outcome.target.split_name, "problems": outcome.problems, "metrics": outcome.metrics})
        return
    _print_outcome(outcome, run)


def _print_outcome(outcome, run: str) -> None:
    from rich.console import Console
    from rich.table import Table

    target = outcome.target
    table = Table("metric", "value", title=f"{run} round {target.round_index}: {target.model} "
                  f"on {outcome.problems} problems, stored as {target.split_name}")
    for metric, value in outcome.metrics.items():
        table.add_row(metric, f"{100 * value:.1f}%")
    Console(width=200).print(table)


COMMANDS: list[click.Command] = [eval_command]
