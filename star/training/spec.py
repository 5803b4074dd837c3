"""The one contract that crosses to the trainer actor: what to train, where to publish it, what came back.

Plain frozen dataclasses, picklable, with no torch or TRL import, so the driver,
the trainer actor and a Ray Train worker group all read the same types.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Strategy = Literal["ddp", "fsdp"]


@dataclass(frozen=True)
class TrainerReport:
    """Where the trainer sends its own loss / learning-rate curves (TRL's `report_to`); set by star.tracking."""

    report_to: tuple[str, ...]
    run_name: str
    #: read by the backend's HF callback (MLFLOW_TRACKING_URI, TENSORBOARD_LOGGING_DIR, WANDB_MODE, ...);
    #: set only while this job trains, so the long-lived trainer actor keeps no round's settings
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishTo:
    """Where the trainer publishes a round's checkpoint; crosses to the trainer actor in TrainSpec."""

    location: str  # the run's folder in storage: a local path or a URI
    name: str  # round_R
    cache_dir: str | None  # `checkpoint_cache`: scratch copy and fetched init models on the trainer's node


@dataclass(frozen=True)
class GroupPlan:
    """How many training processes, and what each reserves; crosses to the actor in TrainSpec."""

    workers: int
    gpus_per_worker: int
    #: CPUs each worker reserves: `trainer.cpus` beside a GPU; a token share on CPU, where the
    #: trainer, like the one-process CPU trainer, fits next to the engines (phases never overlap)
    #: and Ray refuses a placement group bundle that asks for nothing
    cpus_per_worker: float
    strategy: Strategy = "ddp"
    #: custom Ray resources each worker asks for (`trainer.resources`): they keep the group on a node type
    resources: dict[str, float] = field(default_factory=dict)
    #: Ray Train's placement strategy: PACK (workers may spread over nodes) or STRICT_PACK
    #: (`trainer.same_node`: the whole group on one node)
    placement: str = "PACK"

    @property
    def use_gpu(self) -> bool:
        return self.gpus_per_worker > 0


@dataclass(frozen=True)
class TrainSpec:
    """Everything one fine-tuning job needs; picklable so it can cross to an actor."""

    init_model: str
    #: where the checkpoint ends up; with `publish` to a URI, that URI (the trainer actor then trains
    #: into a scratch folder on its node and uploads it)
    output_dir: str
    #: {"prompt": text or chat messages, "completion": text}; messages are rendered with the chat template
    examples: list[dict[str, Any]]
    max_steps: int | None = None
    epochs: float | None = None
    #: examples per optimizer step, whatever the number of devices
    batch_size: int = 8
    #: examples per forward/backward pass on one device (None: batch_size); the rest is accumulation
    micro_batch_size: int | None = None
    learning_rate: float = 1e-5
    lr_schedule: str = "linear"
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    lora_rank: int | None = None
    lora_alpha: int = 32
    seed: int = 0
    max_length: int = 1024
    num_threads: int | None = None
    #: None: on when this process has a GPU (activations dominate its memory), off on CPU
    gradient_checkpointing: bool | None = None
    #: bfloat16 autocast over float32 master weights (CPU: where the CPU computes bf16 natively)
    bf16: bool = False
    #: None: the trainer reports nowhere (report_to="none")
    report: TrainerReport | None = None
    #: the trainer actor publishes the checkpoint to the run's storage (star/run_storage.py); train_sft
    #: itself ignores it. None: output_dir is the result.
    publish: PublishTo | None = None
    #: run on a Ray Train worker group (star/train_group.py); None: in this process
    group: GroupPlan | None = None
    #: set by the group for each of its workers: the processes sharing every batch, this one's rank,
    #: and how they split the model (ddp: a replica each; fsdp: shards)
    world_size: int = 1
    rank: int = 0
    strategy: str = "ddp"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainResult:
    output_dir: str
    steps: int
    examples: int
    final_loss: float | None
    #: examples longer than max_length, cut at the end (their answer may be lost)
    truncated: int = 0
    #: non-padding tokens fed through the model, counted by the HF Trainer when the spec asks for it
    #: (extra={"include_num_input_tokens_seen": "non_padding"}, as bench/training.py does); else None
    tokens: int | None = None
    #: seconds of the training loop alone (the HF Trainer's train_runtime: no loading, tokenizing or saving)
    train_seconds: float | None = None
    #: the most examples one optimizer step saw, summed over all processes: counted, not
    #: configured (it should be batch_size; an epoch's last step may see fewer)
    largest_step: int | None = None
    #: `examples_digest` of the rows this training saw, recorded with the checkpoint, so what the
    #: trainer was sent can be held against the accepted attempts in the store (tests/loop/test_learning.py)
    examples_digest: str | None = None


def examples_digest(examples: list[dict[str, Any]]) -> str:
    """A SHA-256 of training rows ({"prompt", "completion"}), independent of their order."""
    rows = sorted(json.dumps([row["prompt"], row["completion"]], ensure_ascii=False) for row in examples)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()
