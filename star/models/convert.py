"""Convert a GGUF file into a plain transformers folder (safetensors + tokenizer).

transformers (with the `gguf` package) de-quantizes a GGUF checkpoint on load,
but the loaded model carries a GGUF `quantization_config` and cannot be saved
as it is. So the weights are copied into a plain model built from the same
config without it, and saved as safetensors. The weights stay in float32: the
de-quantized values are exact there and would be rounded in bfloat16.
`config.json` still declares the upstream model's bfloat16 as its dtype, which
is what `generators.dtype: auto` serves it in on a CPU that supports bfloat16
(star/precision.py); training loads float32 master weights explicitly.
"""

from __future__ import annotations

from pathlib import Path

from star.precision import declare_dtype

#: SmolLM2's published checkpoints are bfloat16; the converted folder declares the same.
DECLARED_DTYPE = "bfloat16"


def load_gguf(gguf_path: Path):
    """(model, tokenizer) de-quantized from a GGUF file, model in float32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    return model, tokenizer


def plain_copy(model):
    """A model of the same architecture without the GGUF quantization config, same weights."""
    import torch
    from transformers import AutoModelForCausalLM

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._name_or_path = ""
    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    # assign=True adopts the loaded tensors instead of copying into meta storage
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False, assign=True)
    missing = [key for key in missing if key not in _tied_keys(plain)]
    if missing or unexpected:
        raise RuntimeError(f"GGUF weights do not fit the model: missing {missing}, unexpected {unexpected}")
    plain.tie_weights()
    plain.generation_config = model.generation_config
    return plain.eval()


def _tied_keys(model) -> set[str]:
    tied = getattr(model, "_tied_weights_keys", None) or {}
    return set(tied) if isinstance(tied, (dict, list, set, tuple)) else set()


def convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Write the de-quantized model (safetensors), tokenizer and generation config into out_dir."""
    model, tokenizer = load_gguf(gguf_path)
    plain = plain_copy(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    declare_dtype(out_dir, DECLARED_DTYPE)

