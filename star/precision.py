"""Which floating-point type to serve and train in when the config says `auto`.

On a GPU, `auto` is left to vLLM (the checkpoint's dtype). On a CPU, bfloat16
halves the memory traffic of every matrix product, and CPUs with AMX or
AVX-512 BF16 instructions compute it natively, so a pretrained model is served
in bfloat16 there. Elsewhere (AVX2 only, say) bfloat16 is emulated and gains
nothing, so float32 is used. A checkpoint that declares float32 (the embedded
tiny model, built and seed-trained in float32 and too small for the saving to
matter) stays in float32.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

#: /proc/cpuinfo flags of native bfloat16 arithmetic (Intel AMX, AVX-512 BF16 on Intel and AMD)
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True when this CPU has native bfloat16 instructions."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: ask oneDNN, which knows the CPU's features
        return _onednn_bf16()
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    return any(flag in flags for flag in BF16_FLAGS)


def _onednn_bf16() -> bool:
    try:
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (ImportError, AttributeError, RuntimeError):
        return False


def declared_dtype(model: str) -> str | None:
    """The dtype a local checkpoint's config.json declares (None for hub names or no field)."""
    path = Path(model).expanduser() / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    value = config.get("dtype") or config.get("torch_dtype")
    return str(value) if value else None


def declare_dtype(folder: Path, dtype: str) -> None:
    """Set the dtype a checkpoint's config.json declares (save_pretrained writes the in-memory one)."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config["dtype"] = dtype
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def resolve_dtype(requested: str, model: str, *, on_cpu: bool, tiny: bool = False) -> str:
    """The dtype to serve `model` in: `requested` unless it is `auto`."""
    if requested != "auto":
        return requested
    if not on_cpu:
        return "auto"  # vLLM serves the checkpoint's own dtype on a GPU
    if tiny or declared_dtype(model) == "float32":
        return "float32"
    return "bfloat16" if cpu_supports_bf16() else "float32"


def train_in_bf16(requested: str, model: str, *, trainer_gpus: int, tiny: bool = False) -> bool:
    """CPU training autocasts to bfloat16 exactly when CPU serving runs in bfloat16."""
    if trainer_gpus:
        return False  # the GPU path picks bf16 itself when the GPU supports it
    return resolve_dtype(requested, model, on_cpu=True, tiny=tiny) == "bfloat16"
