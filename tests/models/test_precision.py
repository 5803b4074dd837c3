"""`generators.dtype: auto`: bfloat16 on CPUs that compute it natively, float32 for the tiny model."""

from __future__ import annotations

import json

import pytest

import star.precision as precision
from star.config import validate_config
from star.errors import ConfigError
from star.run.workers import engine_spec


@pytest.fixture
def checkpoints(tmp_path):
    folders = {}
    for name, dtype in (("fp32", "float32"), ("bf16", "bfloat16"), ("none", None)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"dtype": dtype} if dtype else {}))
        folders[name] = str(folder)
    return folders


@pytest.mark.parametrize("native, expected", [(True, "bfloat16"), (False, "float32")])
def test_auto_on_cpu_follows_the_cpu_unless_the_checkpoint_is_float32(monkeypatch, checkpoints, native, expected):
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: native)
    assert precision.resolve_dtype("auto", checkpoints["bf16"], on_cpu=True) == expected
    assert precision.resolve_dtype("auto", checkpoints["none"], on_cpu=True) == expected
    assert precision.resolve_dtype("auto", "HuggingFaceTB/SmolLM2-135M", on_cpu=True) == expected
    assert precision.resolve_dtype("auto", checkpoints["fp32"], on_cpu=True) == "float32"
    assert precision.resolve_dtype("auto", checkpoints["bf16"], on_cpu=True, tiny=True) == "float32"
    assert precision.train_in_bf16("auto", checkpoints["bf16"], trainer_gpus=0) is native


def test_an_explicit_dtype_and_a_gpu_are_left_alone(monkeypatch, checkpoints):
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    assert precision.resolve_dtype("float32", checkpoints["bf16"], on_cpu=True) == "float32"
    assert precision.resolve_dtype("bfloat16", checkpoints["fp32"], on_cpu=True) == "bfloat16"
    assert precision.resolve_dtype("auto", checkpoints["bf16"], on_cpu=False) == "auto"
    assert precision.train_in_bf16("auto", checkpoints["bf16"], trainer_gpus=1) is False


def test_engine_spec_serves_the_tiny_model_in_float32(monkeypatch, checkpoints):
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    assert engine_spec(validate_config({"model": "tiny"}), checkpoints["bf16"]).dtype == "float32"
    assert engine_spec(validate_config({"model": checkpoints["bf16"]}), checkpoints["bf16"]).dtype == "bfloat16"
    forced = validate_config({"model": checkpoints["bf16"], "generators": {"dtype": "float32"}})
    assert engine_spec(forced, checkpoints["bf16"]).dtype == "float32"


def test_a_bad_dtype_names_the_field():
    with pytest.raises(ConfigError, match="generators.dtype"):
        validate_config({"generators": {"dtype": "fp8"}})


def test_cpu_flags_are_read_from_cpuinfo():
    flags = open("/proc/cpuinfo").read()
    precision.cpu_supports_bf16.cache_clear()
    assert precision.cpu_supports_bf16() == any(f" {flag}" in flags for flag in precision.BF16_FLAGS)
