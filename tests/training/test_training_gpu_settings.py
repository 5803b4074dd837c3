"""Micro-batching, max length, gradient checkpointing and the saved dtype, with real TRL on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from star.config import load_config
from star.loop.train import training_max_length
from star.models.tiny import TinyModelRecipe, init_random_model, seed_examples
from star.precision import declare_dtype
from star.training.sft import batch_plan, build_trainer, train_sft
from star.training.spec import TrainSpec

def _spec(model: Path, out: Path, **kw) -> TrainSpec:
    fields = {"examples": seed_examples(TinyModelRecipe())[:40], "batch_size": 8, "learning_rate": 1e-3} | kw
    return TrainSpec(init_model=str(model), output_dir=str(out), **fields)


def test_batch_plan_keeps_the_global_batch() -> None:
    assert batch_plan(8, 2) == (2, 4)
    assert batch_plan(8, None) == (8, 1)
    assert batch_plan(64, 4, devices=2) == (4, 8)  # 4 x 8 accumulation x 2 devices = 64
    with pytest.raises(ValueError, match="multiple of micro_batch_size"):
        batch_plan(8, 3)


def test_built_trainer_micro_batches_and_takes_max_length_from_the_spec(tiny_model: Path, tmp_path: Path) -> None:
    trainer = build_trainer(_spec(tiny_model, tmp_path / "out", micro_batch_size=2, max_length=200),
                            tmp_path / "out", progress=False)
    args = trainer.args
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (2, 4)
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size == 8
    assert args.max_length == 200
    assert args.gradient_checkpointing is False  # None on a CPU: off


@pytest.mark.slow  # real TRL training
def test_micro_batched_epoch_takes_one_step_per_global_batch(tiny_model: Path, tmp_path: Path) -> None:
    # 40 examples at global batch 8 = 5 optimizer steps; without accumulation, micro 2 would give 20
    result = train_sft(_spec(tiny_model, tmp_path / "out", micro_batch_size=2, epochs=1.0,
                             gradient_checkpointing=True), progress=False)
    assert result.steps == 5 and result.examples == 40
    assert result.final_loss is not None and result.final_loss == result.final_loss  # not NaN


def test_gradient_checkpointing_can_be_forced_on(tiny_model: Path, tmp_path: Path) -> None:
    trainer = build_trainer(_spec(tiny_model, tmp_path / "out", gradient_checkpointing=True),
                            tmp_path / "out", progress=False)
    assert trainer.args.gradient_checkpointing is True
    assert trainer.args.gradient_checkpointing_kwargs == {"use_reentrant": False}


@pytest.mark.slow  # real TRL training
def test_examples_longer_than_max_length_are_counted(tiny_model: Path, tmp_path: Path) -> None:
    short = [row for row in seed_examples(TinyModelRecipe()) if len(row["prompt"] + row["completion"]) < 100]
    examples = short[:16]  # each under 100 characters (= tokens), so only the 3 lengthened ones pass 150
    for row in examples[:3]:
        row["completion"] = row["completion"] + "1+1=2 >2\n" * 30  # 270 more
    result = train_sft(_spec(tiny_model, tmp_path / "out", examples=examples, max_length=150, max_steps=1),
                       progress=False)
    assert result.truncated == 3


def test_training_max_length_is_its_own_field_else_the_engines() -> None:
    assert training_max_length(load_config(None, {"generators.max_model_len": 2048})) == 2048
    assert training_max_length(load_config(None, {"generators.max_model_len": 2048,
                                                  "training.max_length": 512})) == 512


@pytest.mark.slow  # real TRL training
@pytest.mark.parametrize(("declared", "stored"), [("float32", "F32"), ("bfloat16", "BF16")])
def test_checkpoint_is_saved_in_the_dtype_the_base_declares(tmp_path: Path, declared: str, stored: str) -> None:
    from safetensors import safe_open

    init_random_model(tmp_path / "init", TinyModelRecipe())
    declare_dtype(tmp_path / "init", declared)  # a bf16 base trains on float32 master weights
    result = train_sft(_spec(tmp_path / "init", tmp_path / "out", max_steps=1), progress=False)
    with safe_open(str(Path(result.output_dir) / "model.safetensors"), framework="pt") as weights:
        dtypes = {weights.get_slice(name).get_dtype() for name in weights.keys()}
    assert dtypes == {stored}
    assert json.loads((Path(result.output_dir) / "config.json").read_text())["dtype"] == declared


def test_memory_settings_may_change_on_resume_but_max_length_may_not() -> None:
    from star.run.resume import result_differences

    base = load_config(None)
    lower = load_config(None, {"training.micro_batch_size": 2, "training.gradient_checkpointing": True})
    assert result_differences(base, lower) == []
    assert result_differences(base, load_config(None, {"training.max_length": 256})) == ["training.max_length"]
