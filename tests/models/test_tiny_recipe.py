"""`star run --set seed=N` seeds the embedded model's build too, and caches one model per seed."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from star.config import validate_config
from star.models.tiny import TinyModelRecipe, seed_examples, tiny_model_path, tiny_recipe
from star.run.base_model import planned_base_model
from star.tasks.arithmetic import parse_operands, render_rationale


def test_each_run_seed_has_its_own_recipe_and_cache_folder() -> None:
    folders = {tiny_model_path(Path("/cache"), tiny_recipe(seed)) for seed in (0, 1, 2)}
    assert len(folders) == 3
    assert tiny_recipe(7) == tiny_recipe(7)  # same seed, same build
    assert tiny_recipe(7).seed == 7 and tiny_recipe(7).seed_counts == TinyModelRecipe().seed_counts


def test_the_seed_changes_the_seed_set_but_not_its_shape() -> None:
    a, b = seed_examples(tiny_recipe(0)), seed_examples(tiny_recipe(1))
    assert a != b and len(a) == len(b) == _seed_set_size()


def test_a_run_plans_the_model_of_its_own_seed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    planned = {seed: planned_base_model(validate_config({"seed": seed})) for seed in (0, 3)}
    assert planned[0] != planned[3]
    assert Path(planned[3]).name == tiny_model_path(recipe=tiny_recipe(3)).name
    assert Path(planned[3]).is_relative_to(tmp_path)


def test_the_demo_seed_set_has_longer_worked_examples() -> None:
    """Without a few 4- and 5-digit examples the model never copied a long operand (0% at 4-5 digits)."""
    digits = [_operand_lengths(row)[0] for row in seed_examples(tiny_recipe(0))]
    assert digits.count(4) > 0 and digits.count(5) > 0


def _seed_set_size() -> int:
    return sum(TinyModelRecipe().seed_counts) + sum(TinyModelRecipe().uneven_counts)


def _operands(row: dict[str, str]) -> tuple[int, int]:
    """The sum a seed prompt asks ("Q: a+b\n", or with " (hint: N)" after it)."""
    return parse_operands(row["prompt"].removeprefix("Q: ").split(" ")[0].strip())


def _operand_lengths(row: dict[str, str]) -> tuple[int, int]:
    a, b = _operands(row)
    return len(str(a)), len(str(b))


def test_uneven_seed_sums_never_give_away_an_equal_length_task_problem() -> None:
    """The task asks equal-length sums; the uneven ones only show two long operands being copied."""
    recipe = TinyModelRecipe(seed_counts=(0,), uneven_counts=(0, 0, 3, 0, 40, 30))
    rows = seed_examples(recipe)
    lengths = [_operand_lengths(row) for row in rows]
    assert all(1 <= abs(a - b) <= 2 for a, b in lengths), lengths
    assert Counter(max(pair) for pair in lengths) == {3: 3, 5: 40, 6: 30}
    assert {a > b for a, b in lengths} == {True, False}  # the longer operand comes first or second
    # every completion is the exact worked scratchpad of its sum
    assert all(row["completion"] == render_rationale(*_operands(row)) for row in rows)


def test_a_recipe_without_uneven_sums_keeps_its_seed_set() -> None:
    """Adding uneven sums must not reshuffle the even ones: recipes without them (the tests' pinned
    model) keep the seed set, and so the build, they had before."""
    plain = TinyModelRecipe(seed=3, uneven_counts=())
    with_uneven = replace(plain, uneven_counts=(0, 0, 0, 0, 5))
    even = [row for row in seed_examples(with_uneven) if len(set(_operand_lengths(row))) == 1]
    assert len(even) == sum(plain.seed_counts) > 0
    assert sorted(map(str, even)) == sorted(map(str, seed_examples(plain)))  # same sums, same hints


def test_the_package_ships_the_default_build_of_the_current_recipe() -> None:
    """Changing the recipe without `star models build-tiny --seed 0 --ship` fails here, not on a user's machine."""
    from star.models.tiny import RECIPE_FILE, SHIPPED_MODEL, shipped_model

    assert shipped_model(tiny_recipe(0)) == SHIPPED_MODEL, (
        f"{SHIPPED_MODEL / RECIPE_FILE} is not the current default recipe: rebuild it with "
        "`star models build-tiny --seed 0 --ship`")
    assert shipped_model(tiny_recipe(1)) is None  # other seeds are built on first use
    assert (SHIPPED_MODEL / "model.safetensors").stat().st_size > 1_000_000


def test_the_tests_ship_their_pinned_model(tiny_model_recipe, tiny_model: Path) -> None:
    """Changing the tests' recipe without rebuilding tests/data/tiny-test-model fails here."""
    from star.models.tiny import shipped_model

    shipped = Path(__file__).resolve().parents[1] / "data" / "tiny-test-model"
    assert shipped_model(tiny_model_recipe, shipped) == shipped, (
        "tests/data/tiny-test-model is not the build of the tests' recipe: rebuild it as its README says")
    assert (tiny_model / "model.safetensors").read_bytes() == (shipped / "model.safetensors").read_bytes()


def test_from_scratch_skips_the_packaged_copy(monkeypatch) -> None:
    """bench/embedded_builds.py --from-scratch measures seed 0 as a build, not as the packaged weights."""
    from star.models.tiny import FROM_SCRATCH_ENV, SHIPPED_MODEL, packaged_copy

    monkeypatch.delenv(FROM_SCRATCH_ENV, raising=False)
    assert packaged_copy(tiny_recipe(0)) == SHIPPED_MODEL
    monkeypatch.setenv(FROM_SCRATCH_ENV, "1")
    assert packaged_copy(tiny_recipe(0)) is None


def test_an_empty_cache_gets_the_shipped_weights_without_a_build(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from star.models.tiny import SHIPPED_MODEL, ensure_tiny_model

    path = ensure_tiny_model(tmp_path, tiny_recipe(0), progress=False)
    assert path.parent == tmp_path and not list(tmp_path.glob("*.copy"))
    shipped = load_file(SHIPPED_MODEL / "model.safetensors")
    loaded = AutoModelForCausalLM.from_pretrained(path).state_dict()
    assert all(torch.equal(tensor, loaded[name]) for name, tensor in shipped.items())


def test_ship_replaces_the_packaged_folder_whole(tmp_path: Path) -> None:
    from star.models.tiny import RECIPE_FILE, ship

    built = tmp_path / "built"
    built.mkdir()
    (built / "model.safetensors").write_bytes(b"weights")
    target = tmp_path / "package" / "tiny-seed-model"
    target.parent.mkdir()
    ship(built, tiny_recipe(5), target)
    (built / "model.safetensors").write_bytes(b"other")
    ship(built, tiny_recipe(6), target)
    assert (target / "model.safetensors").read_bytes() == b"other"
    assert '"seed": 6' in (target / RECIPE_FILE).read_text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny-seed-model"]


def test_the_seed_training_follows_the_recipes_schedule(tmp_path: Path) -> None:
    """The schedule changes what a build can do (a constant rate leaves builds unsettled, cosine settles
    them), so it comes from the recipe and is part of the build's cache name."""
    from star.models.tiny import seed_training_spec

    spec = seed_training_spec(tiny_recipe(0), tmp_path / "init", tmp_path / "out")
    assert spec.lr_schedule == TinyModelRecipe().lr_schedule and spec.max_steps == TinyModelRecipe().steps
    assert len(spec.examples) == _seed_set_size()
    settled = replace(tiny_recipe(0), lr_schedule="cosine")
    assert seed_training_spec(settled, tmp_path / "init", tmp_path / "out").lr_schedule == "cosine"
    assert settled.key() != tiny_recipe(0).key()
