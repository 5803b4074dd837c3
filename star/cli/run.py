"""`star run` and `star config-help`."""

from __future__ import annotations

from pathlib import Path

import click

from star.config import field_help, load_config


@click.command("run")
@click.argument("config_path", metavar="[CONFIG]", required=False, type=click.Path(path_type=Path))
@click.option("--rounds", type=int, help="Number of STaR rounds (overrides `rounds`).")
@click.option("--run-name", help="Name of the run; re-using a name resumes it.")
@click.option("--resume", "resume", metavar="RUN",
              help="Continue the run RUN; without CONFIG it uses the run's stored config.")
@click.option("--force", is_flag=True,
              help="Take the run over even if another driver holds it (only when that driver is dead).")
@click.option("--db", "database", metavar="URL", help="Store URL (default: $STAR_DATABASE_URL or sqlite:///star.db).")
@click.option("--storage", help="Folder or URI (s3://bucket/prefix, gs://...) for checkpoints (overrides `storage`).")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Override any config field, e.g. --set sampling.temperature=0.7 (YAML value).")
@click.option("--skip-invalid", is_flag=True, help="Drop dataset rows that fail validation and report how many.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run_command(config_path: Path | None, rounds: int | None, run_name: str | None, resume: str | None,
                force: bool, database: str | None, storage: str | None, sets: tuple[str, ...],
                skip_invalid: bool, quiet: bool) -> None:
    """Run STaR rounds; with no CONFIG, the embedded arithmetic default on this machine.

    Re-using a run name (or --resume RUN) continues that run; fields that change
    results (task, model, seed, sampling, ...) must match its stored config.
    """
    from star.cli.options import parse_sets
    from star.errors import ConfigError

    if resume and run_name and resume != run_name:
        raise ConfigError("--resume and --run-name name different runs; give only one of them")
    overrides = parse_sets(sets)
    for field, value in (("rounds", rounds), ("run_name", resume or run_name), ("database", database),
                         ("storage", storage)):
        if value is not None:
            overrides[field] = value
    if resume and config_path is None:
        from star.run.driver import load_run_config

        config = load_run_config(resume, overrides.pop("database", None), overrides)
    else:
        config = load_config(config_path, overrides)  # fails here, before any work, on a bad value

    from star.run.driver import run_star
    from star.run.lifecycle import SIGTERM_EXIT, exit_as_stopped

    try:
        run_star(config, skip_invalid=skip_invalid, show_progress=not quiet, force=force)
    except SystemExit as stop:
        if stop.code == SIGTERM_EXIT:  # stopped and recorded; leave with the status a supervisor expects
            exit_as_stopped()
        raise


@click.command("config-help")
def config_help_command() -> None:
    """Every config field with its default and help text."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="star run config fields")
    for column in ("field", "default", "help"):
        table.add_column(column)
    for row in field_help():
        table.add_row(*row)
    Console().print(table)


COMMANDS: list[click.Command] = [run_command, config_help_command]
