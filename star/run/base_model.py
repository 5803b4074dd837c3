"""The model a run starts from: the embedded tiny model (built or copied once), a known short name
(fetched and converted once), or a Hugging Face name or path as given."""

from __future__ import annotations

from star.config import TINY_MODEL, StarConfig
from star.progress import Progress


def planned_base_model(config: StarConfig) -> str:
    """The model path the run starts from, without building anything."""
    if config.model != TINY_MODEL:
        return config.model
    from star.models.tiny import tiny_model_path, tiny_recipe

    return str(tiny_model_path(recipe=tiny_recipe(config.seed)))


def resolve_base_model(config: StarConfig, progress: Progress) -> str:
    """'tiny' builds (once, cached) the embedded model; a known name (star models list) is
    fetched and converted once; anything else is an HF name or path."""
    if config.model != TINY_MODEL:
        from star.models import known_model, prepare_model

        if known_model(config.model) is None:
            return config.model
        with progress.spinner(f"preparing model {config.model} (first use: fetch and convert)"):
            return str(prepare_model(config.model, log=progress.log))
    from star.models.tiny import ensure_tiny_model, packaged_copy, tiny_model_path, tiny_recipe

    recipe = tiny_recipe(config.seed)  # `seed` also seeds the build: one cached model per seed
    target = tiny_model_path(recipe=recipe)
    activity = "seed-training the tiny model"
    if not (target / "config.json").exists():
        if packaged_copy(recipe) is not None:
            activity = "copying the packaged tiny model"
            progress.log(f"using the packaged tiny arithmetic model of seed {config.seed} "
                         f"(copied into {target.parent})")
        else:
            progress.log(f"building the tiny arithmetic model for seed {config.seed} once "
                         f"(cached in {target.parent}) ...")
    with progress.spinner(activity):
        return str(ensure_tiny_model(recipe=recipe, progress=False))
