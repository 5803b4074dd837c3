"""The trainer's plain function: full fine-tune and LoRA (merged) with real TRL on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from star.models.tiny import TinyModelRecipe, init_random_model, seed_examples
from star.training.sft import train_sft
from star.training.spec import TrainSpec

@pytest.mark.slow  # real TRL training
@pytest.mark.parametrize("lora_rank", [None, 4])
def test_training_writes_a_loadable_checkpoint_with_new_weights(tmp_path: Path, lora_rank, capfd) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    recipe = TinyModelRecipe()
    init_random_model(tmp_path / "init", recipe)
    capfd.readouterr()  # the set-up's own output
    out = tmp_path / "round_1"
    result = train_sft(TrainSpec(init_model=str(tmp_path / "init"), output_dir=str(out),
                                 examples=seed_examples(recipe)[:64], max_steps=3, batch_size=8,
                                 learning_rate=1e-3, lora_rank=lora_rank), progress=False)
    assert result.steps == 3 and result.examples == 64 and result.output_dir == str(out)
    printed = capfd.readouterr()  # without progress, no library bars reach the round's console
    assert "Loading weights" not in printed.err + printed.out and "Writing model shards" not in printed.err
    assert not (tmp_path / "round_1.partial").exists()  # written aside, then renamed
    trained = AutoModelForCausalLM.from_pretrained(out)  # plain weights: LoRA is merged for vLLM
    base = AutoModelForCausalLM.from_pretrained(tmp_path / "init")
    assert not any(k.startswith("base_model") or "lora" in k for k in trained.state_dict())
    assert any(not torch.equal(a, b) for a, b in zip(trained.state_dict().values(), base.state_dict().values()))
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.convert_tokens_to_ids("</s>") == tokenizer.eos_token_id


def test_no_examples_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no training examples"):
        train_sft(TrainSpec(init_model="unused", output_dir=str(tmp_path / "x"), examples=[]))
