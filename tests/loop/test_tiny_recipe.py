"""`star run --set seed=N` seeds the embedded model's build too, and caches one model per seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from star.config import validate_config
from star.runner import planned_base_model
from star.tiny_model import TinyModelRecipe, seed_examples, tiny_model_path, tiny_recipe


def test_each_run_seed_has_its_own_recipe_and_cache_folder() -> None:
    folders = {tiny_model_path(Path("/cache"), tiny_recipe(seed)) for seed in (0, 1, 2)}
    assert len(folders) == 3
    assert tiny_recipe(7) == tiny_recipe(7)  # same seed, same build
    assert tiny_recipe(7).seed == 7 and tiny_recipe(7).seed_counts == TinyModelRecipe().seed_counts


def test_the_seed_changes_the_seed_set_but_not_its_shape() -> None:
    a, b = seed_examples(tiny_recipe(0)), seed_examples(tiny_recipe(1))
    assert a != b and len(a) == len(b) == sum(TinyModelRecipe().seed_counts)


def test_a_run_plans_the_model_of_its_own_seed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    planned = {seed: planned_base_model(validate_config({"seed": seed})) for seed in (0, 3)}
    assert planned[0] != planned[3]
    assert Path(planned[3]).name == tiny_model_path(recipe=tiny_recipe(3)).name
    assert Path(planned[3]).is_relative_to(tmp_path)


def test_the_demo_seed_set_has_longer_worked_examples() -> None:
    """Without a few 4- and 5-digit examples the model never copied a long operand (0% at 4-5 digits)."""
    digits = [len(row["prompt"].split("+")[0].removeprefix("Q: ")) for row in seed_examples(tiny_recipe(0))]
    assert digits.count(4) > 0 and digits.count(5) > 0
