"""GPU memory a run config needs: the trainer's peak per GPU and each engine's KV cache.

The arithmetic that the GPU examples used to carry in their comments, as functions:
`star run` (star/run/preflight.py) and `star submit` warn with it before any GPU work
starts, and tests/deploy checks that the examples' memory comments are what it computes.

An estimate, not a measurement, of what star's trainer does (star/training/sft.py):
float32 master weights with bfloat16 autocast, AdamW in float32, activation
(gradient) checkpointing on a GPU, and a loss over float32 logits. The worst case is a
micro-batch whose longest example reaches `training.max_length`: padding makes every
row that long. The engine side follows vLLM: `gpu_memory_utilization` of the GPU, less
the weights and its activations, is KV cache.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from star.config.run import StarConfig

GB = 1e9
#: CUDA context, cuBLAS / NCCL workspaces and allocator slack of one training process
TRAINER_OVERHEAD_GB = 1.0
#: what a vLLM engine holds besides weights and KV cache: activations of its profiling batch, CUDA graphs
ENGINE_OVERHEAD_GB = 3.0
#: float32 logits, their bfloat16 original and the float32 gradient the loss keeps: 2 + 4 + 4 bytes per entry
LOGIT_BYTES = 10
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


@dataclass(frozen=True)
class ModelShape:
    """What memory depends on in a decoder-only transformer (a Hugging Face config.json's fields)."""

    layers: int
    hidden: int
    intermediate: int
    vocab: int
    heads: int
    kv_heads: int
    head_dim: int
    tied_embeddings: bool
    dtype_bytes: int = 2  # the checkpoint's dtype: what vLLM serves with generators.dtype auto

    @classmethod
    def from_hf_config(cls, config: Mapping[str, Any]) -> ModelShape:
        """From a config.json dict; a missing field is a ValueError naming it."""
        missing = [key for key in ("num_hidden_layers", "hidden_size", "intermediate_size", "vocab_size",
                                   "num_attention_heads") if key not in config]
        if missing:
            raise ValueError(f"config.json has no {', '.join(missing)}: not a decoder-only transformer star can size")
        heads = int(config["num_attention_heads"])
        dtype = str(config.get("torch_dtype") or config.get("dtype") or "bfloat16")
        return cls(layers=int(config["num_hidden_layers"]), hidden=int(config["hidden_size"]),
                   intermediate=int(config["intermediate_size"]), vocab=int(config["vocab_size"]), heads=heads,
                   kv_heads=int(config.get("num_key_value_heads") or heads),
                   head_dim=int(config.get("head_dim") or int(config["hidden_size"]) // heads),
                   tied_embeddings=bool(config.get("tie_word_embeddings", False)),
                   dtype_bytes=DTYPE_BYTES.get(dtype, 2))

    @property
    def layer_parameters(self) -> int:
        """One decoder layer: attention (q, k, v, o), a gated MLP (gate, up, down), two norms; biases left out."""
        kv = self.kv_heads * self.head_dim
        attention = 2 * self.hidden * self.heads * self.head_dim + 2 * self.hidden * kv
        return attention + 3 * self.hidden * self.intermediate + 2 * self.hidden

    @property
    def embedding_parameters(self) -> int:
        return self.vocab * self.hidden

    @property
    def parameters(self) -> int:
        head = 0 if self.tied_embeddings else self.embedding_parameters
        return self.layers * self.layer_parameters + self.embedding_parameters + head + self.hidden

    def lora_parameters(self, rank: int) -> int:
        """A LoRA adapter of `rank` on every linear layer (peft's all-linear): rank x (in + out) each."""
        kv = self.kv_heads * self.head_dim
        q_out = self.heads * self.head_dim
        in_out = (self.hidden + q_out) * 2 + (self.hidden + kv) * 2 + 3 * (self.hidden + self.intermediate)
        return rank * in_out * self.layers

    def kv_bytes_per_token(self, dtype_bytes: int) -> int:
        """K and V of every layer for one token."""
        return 2 * self.layers * self.kv_heads * self.head_dim * dtype_bytes


@dataclass(frozen=True)
class Part:
    """One line of an estimate: what, how it was computed, how much."""

    label: str
    formula: str
    gb: float


@dataclass(frozen=True)
class TrainerMemory:
    """The peak of one training process's GPU at `micro` examples of `tokens` tokens."""

    parts: tuple[Part, ...]
    micro: int
    tokens: int

    @property
    def total_gb(self) -> float:
        return sum(part.gb for part in self.parts)


@dataclass(frozen=True)
class EngineMemory:
    """One vLLM engine GPU: its budget, the weights on it, and the KV cache left."""

    budget_gb: float
    weights_gb: float
    kv_cache_gb: float
    tokens: int
    sequences: int


def trainer_memory(shape: ModelShape, *, micro: int, tokens: int, workers: int = 1, strategy: str = "ddp",
                   lora_rank: int | None = None, checkpointing: bool = True) -> TrainerMemory:
    """GPU memory of one training process (full fine-tune, or LoRA with `lora_rank`), with activation
    checkpointing (each layer's input kept, one layer recomputed at a time) or without (every layer's)."""
    p = shape.parameters
    billions = f"{p / 1e9:.2f}e9"
    sharded = strategy == "fsdp" and workers > 1
    parts: list[Part] = []
    if lora_rank:
        adapter = shape.lora_parameters(lora_rank)
        parts += [Part("base weights, fp32", f"{billions} x 4 B", p * 4 / GB),
                  Part("their bf16 autocast copies", f"{billions} x 2 B", p * 2 / GB),
                  Part("adapter: weights, grads, Adam", f"{adapter / 1e9:.3f}e9 x 16 B", adapter * 16 / GB)]
    elif sharded:
        unit = max(shape.layer_parameters, shape.embedding_parameters)
        parts += [Part("weights, grads, Adam, fp32", f"{billions} x 16 B / {workers} workers", p * 16 / workers / GB),
                  Part("largest unit gathered, bf16", f"{unit / 1e9:.2f}e9 x 2 B x 2 (prefetch)", unit * 4 / GB)]
    else:
        parts += [Part("weights, fp32 master copy", f"{billions} x 4 B", p * 4 / GB),
                  Part("their bf16 autocast copies", f"{billions} x 2 B", p * 2 / GB),
                  Part("gradients, fp32", f"{billions} x 4 B", p * 4 / GB),
                  Part("Adam moments m and v, fp32", f"{billions} x 8 B", p * 8 / GB)]
        if workers > 1:  # DDP copies gradients into its all-reduce buckets
            parts.append(Part("DDP gradient buckets, fp32", f"{billions} x 4 B", p * 4 / GB))
    rows = micro * tokens
    kept = rows * shape.hidden * 2 * shape.layers
    # what one recomputed layer saves for its backward, and those tensors' gradients (bf16, fp32 norm inputs)
    layer = 2 * rows * (18 * shape.hidden + 8 * shape.intermediate)
    logits = rows * shape.vocab * LOGIT_BYTES
    saved = f"{micro} x {tokens:,} x (18 x {shape.hidden} + 8 x {shape.intermediate}) B"
    if checkpointing:
        parts += [Part("activations: kept layer inputs",
                       f"{micro} x {tokens:,} x {shape.hidden} x 2 B x {shape.layers}", kept / GB),
                  Part("activations: 1 layer + its grads", f"{saved} x 2", layer / GB)]
    else:
        every = layer / 2 * shape.layers
        parts.append(Part("activations: every layer's", f"{saved} x {shape.layers}", every / GB))
    parts += [Part("logits and their loss", f"{micro} x {tokens:,} x {shape.vocab:,} x {LOGIT_BYTES} B", logits / GB),
              Part("CUDA context, workspaces", "", TRAINER_OVERHEAD_GB)]
    return TrainerMemory(tuple(parts), micro, tokens)


def engine_memory(shape: ModelShape, *, gpu_gb: float, utilization: float, tensor_parallel: int = 1,
                  max_model_len: int, dtype_bytes: int | None = None) -> EngineMemory:
    """KV cache of one engine: vLLM takes `utilization` of each of its GPUs and fills what the weights
    (split over the tensor-parallel GPUs) and its own activations leave with KV cache."""
    width = dtype_bytes or shape.dtype_bytes
    tp = max(1, tensor_parallel)
    budget = utilization * gpu_gb
    weights = shape.parameters * width / tp / GB
    kv = max(0.0, budget - weights - ENGINE_OVERHEAD_GB)
    tokens = int(kv * GB * tp / shape.kv_bytes_per_token(width))
    return EngineMemory(budget, weights, kv, tokens, tokens // max_model_len)


# --- a run config ----------------------------------------------------------------------------------------


def training_tokens(config: StarConfig) -> int:
    """The longest example a micro-batch pads to: training.max_length, else generators.max_model_len."""
    return config.training.max_length or config.generators.max_model_len


def config_trainer_memory(config: StarConfig, shape: ModelShape) -> TrainerMemory:
    """`trainer_memory` with the config's batch plan (as star/training/sft.py's batch_plan splits it)."""
    trainer, training = config.trainer, config.training
    workers = trainer.workers or max(1, trainer.gpus)
    micro = training.micro_batch_size or max(1, training.batch_size // workers)
    return trainer_memory(shape, micro=micro, tokens=training_tokens(config), workers=workers,
                          strategy=trainer.strategy,
                          lora_rank=training.lora_rank if training.method == "lora" else None,
                          checkpointing=training.gradient_checkpointing is not False)


def serving_bytes(config: StarConfig, shape: ModelShape) -> int:
    dtype = config.generators.dtype
    return shape.dtype_bytes if dtype == "auto" else DTYPE_BYTES[dtype]


def config_engine_memory(config: StarConfig, shape: ModelShape) -> EngineMemory | None:
    """`engine_memory` of the config's engines, or None without GPU engines or their gpu_memory_gb."""
    gen = config.generators
    if not (gen.gpus_per_generator and gen.gpu_memory_gb):
        return None
    return engine_memory(shape, gpu_gb=gen.gpu_memory_gb, utilization=gen.gpu_memory_utilization,
                         tensor_parallel=gen.gpus_per_generator, max_model_len=gen.max_model_len,
                         dtype_bytes=serving_bytes(config, shape))


def memory_comment(config: StarConfig, shape: ModelShape) -> list[str]:
    """The memory block a GPU example carries as a comment: the trainer's parts and total, and the
    engine's KV cache, against the GPU memory the config names (trainer/generators.gpu_memory_gb)."""
    memory = config_trainer_memory(config, shape)
    gpu = config.trainer.gpu_memory_gb
    lines = [(f"trainer GPU at micro {memory.micro}, every example {memory.tokens:,} tokens "
              f"({shape.parameters / 1e9:.2f}e9 parameters):")]
    lines += [f"  {part.label:<36} {part.formula:<42} {part.gb:5.1f} GB" for part in memory.parts]
    lines.append(f"  {'total':<36} {'':<42} {memory.total_gb:5.1f} GB" + (f" of {gpu:g}" if gpu else ""))
    engine = config_engine_memory(config, shape)
    if engine is not None:
        gen = config.generators
        per_token = shape.kv_bytes_per_token(serving_bytes(config, shape)) / 1e3
        lines += [(f"engine GPU: {gen.gpu_memory_utilization:g} x {gen.gpu_memory_gb:g} GB = "
                   f"{engine.budget_gb:.1f} GB, less weights {engine.weights_gb:.1f} GB and "
                   f"{ENGINE_OVERHEAD_GB:g} GB of activations:"),
                  (f"  KV cache {engine.kv_cache_gb:.1f} GB at {per_token:.0f} KB a token = "
                   f"{engine.tokens / 1e6:.2f}M tokens, {engine.sequences} sequences of {gen.max_model_len:,}")]
    return lines


def memory_warnings(config: StarConfig, shape: ModelShape) -> list[str]:
    """What will not fit the GPU memory the config names, each with the fix; empty when all fits
    (or when no GPU memory is named: then there is nothing to compare with)."""
    warnings = []
    gpu = config.trainer.gpu_memory_gb
    if config.trainer.gpus and gpu and not config.colocate:
        memory = config_trainer_memory(config, shape)
        if memory.total_gb > gpu:
            warnings.append(
                f"the trainer needs about {memory.total_gb:.0f} GB per GPU at micro_batch_size {memory.micro} and "
                f"{memory.tokens:,} tokens, more than trainer.gpu_memory_gb ({gpu:g}); lower "
                "training.micro_batch_size or training.max_length, or use a larger GPU (or trainer.strategy fsdp)")
    engine = config_engine_memory(config, shape)
    if engine is not None and engine.sequences < 1:
        warnings.append(
            f"an engine keeps {engine.kv_cache_gb:.1f} GB of KV cache after its weights ({engine.weights_gb:.1f} "
            f"GB), less than one sequence of generators.max_model_len {config.generators.max_model_len:,}; raise "
            "generators.gpu_memory_utilization or generators.gpus_per_generator, or lower max_model_len")
    return warnings


def read_model_shape(model: str) -> ModelShape | None:
    """The shape of `model` from its config.json without a download: a local folder, or a hub name
    already in the Hugging Face cache. None when neither has it (nothing is estimated then)."""
    path = Path(model).expanduser()
    config_file: Path | None = path / "config.json" if path.is_dir() else None
    if config_file is None and "/" in model and not model.startswith(("/", ".", "~")):
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model, "config.json")
        except Exception:  # noqa: BLE001 - an unusable cache only means no estimate
            cached = None
        config_file = Path(cached) if isinstance(cached, str) else None
    if config_file is None or not config_file.is_file():
        return None
    try:
        return ModelShape.from_hf_config(json.loads(config_file.read_text()))
    except (ValueError, OSError):
        return None
