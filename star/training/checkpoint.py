"""Saving a trained model as a checkpoint: rank 0 writes it in the base's dtype, then renames it into place.

A checkpoint is written to `<name>.partial` and renamed when whole, so a crash never
leaves a half-written folder that a resumed run would trust.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from star.training.spec import TrainSpec


def save_checkpoint(trainer, spec: TrainSpec, tmp_dir: Path, final_dir: Path) -> None:
    """Rank 0 saves the trained weights (LoRA merged) in the base's dtype, then renames into place.

    Under FSDP every rank holds a shard: all of them take part in gathering the full
    state dict, which only rank 0 writes.
    """
    full_state = trainer.accelerator.get_state_dict(trainer.model_wrapped) if spec.strategy == "fsdp" else None
    if spec.rank != 0:
        return
    trained = trainer.accelerator.unwrap_model(trainer.model)
    if spec.lora_rank:
        trained = trained.merge_and_unload()  # vLLM loads plain weights
    _save_in_declared_dtype(trained, spec.init_model, tmp_dir, state_dict=full_state)
    trainer.processing_class.save_pretrained(str(tmp_dir))
    replace_dir(tmp_dir, final_dir)


def _save_in_declared_dtype(model, init_model: str, out_dir: Path, state_dict: dict | None = None) -> None:
    """Save safetensors in the dtype the base declares, not in the float32 of the master weights.

    Training keeps float32 weights (bf16 only autocasts the products); a bfloat16 base saved as
    float32 would be twice the size and, under `generators.dtype: auto`, served in float32 on a GPU.
    The float32 tiny model stays float32. A base declaring nothing is saved as trained.
    """
    import torch

    from star.precision import declare_dtype

    declared = base_dtype(init_model)
    dtype = getattr(torch, declared, None) if declared else None
    converts = isinstance(dtype, torch.dtype) and dtype.is_floating_point
    if state_dict is not None:  # gathered from FSDP shards
        if converts:
            state_dict = {name: t.to(dtype) if t.is_floating_point() else t for name, t in state_dict.items()}
        model.save_pretrained(str(out_dir), safe_serialization=True, state_dict=state_dict)
    else:
        if converts and model.dtype != dtype:
            model = model.to(dtype)  # the trainer is done with it; its optimizer state is not saved
        model.save_pretrained(str(out_dir), safe_serialization=True)
    if declared:
        declare_dtype(out_dir, declared)


def base_dtype(init_model: str) -> str | None:
    """The dtype `init_model` declares: a local config.json, or a hub model's cached config."""
    from star.precision import declared_dtype

    declared = declared_dtype(init_model)
    if declared or Path(init_model).expanduser().exists():
        return declared
    from transformers import AutoConfig

    try:
        dtype = AutoConfig.from_pretrained(init_model).dtype
    except (OSError, ValueError):
        return None
    return str(dtype).removeprefix("torch.") if dtype else None


def replace_dir(src: Path, dst: Path) -> None:
    import shutil

    for leftover in ("checkpoint", "runs"):
        for path in src.glob(f"{leftover}*"):
            shutil.rmtree(path, ignore_errors=True)
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(src, dst)
