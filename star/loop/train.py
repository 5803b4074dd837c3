"""Train: fine-tune on the round's accepted triplets, on the trainer actor, surviving one death of it.

Ray restarts a dead trainer actor (`max_restarts`) but never re-runs its call
(`max_task_retries=0`); the round retries the whole training once, from
scratch: a checkpoint is only renamed into place when complete (`.partial`
dir), so a half-written one is never used. An exception raised by the training
code itself is not retried: it would fail the same way again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from star.actor_calls import ActorLost, call_with_restarts
from star.config import TINY_MODEL, StarConfig
from star.config.storage import join
from star.engines.sleep import engines_asleep
from star.errors import StarError
from star.loop.context import RunContext
from star.loop.selection import as_sft_rows, select_examples, steps_for_round
from star.precision import train_in_bf16
from star.storage.runs import checkpoint_exists, checkpoint_name, discard_unrecorded, run_location
from star.training.group import group_plan
from star.training.spec import PublishTo, TrainResult, TrainSpec

TRAIN_TRIES = 2  # the first try and one retry


class TrainingFailed(StarError):
    """The trainer actor died twice in one round; attempts are stored and the round stays resumable."""


@dataclass(frozen=True)
class Trained:
    """What a round's training left: the checkpoint to serve next, and what it trained on."""

    model: str
    examples: int
    steps: int


def train_round(ctx: RunContext, index: int, model_in: str) -> Trained:
    """Fine-tune on this round's accepted triplets; skipped when the checkpoint is recorded and the
    storage holds it complete."""
    recorded = ctx.store.recorded_model(index)
    if recorded is not None and checkpoint_exists(recorded.path):
        return Trained(recorded.path, recorded.train_examples, recorded.steps)
    cfg = ctx.config.training
    examples = ctx.control_examples
    if examples is None:
        examples = select_examples(ctx.store.accepted_triplets(index), dedup=cfg.dedup,
                                   max_per_problem=cfg.max_per_problem)
    if not examples:
        ctx.log(index, f"nothing accepted; keeping {model_in}")
        return Trained(model_in, 0, 0)
    init = ctx.base_model if cfg.init_from == "base" else model_in
    location, name = run_location(ctx.storage, ctx.run_name), checkpoint_name(index)
    if recorded is None:
        discard_unrecorded(location, name, lambda line: ctx.log(index, line))
    spec = training_spec(ctx, index, init=init, examples=as_sft_rows(examples, ctx.task),
                         publish=PublishTo(location, name, ctx.config.checkpoint_cache))
    save_time = ctx.store.phase_clock(index, "train", ctx.clock)
    with ctx.progress.spinner(f"round {index}: training on {len(examples)} examples"), _engines_freed(ctx, index):
        result = train_with_retry(ctx.workers.trainer, spec, round_index=index, log=ctx.progress.log,
                                  restart_timeout=ctx.config.recovery.restart_timeout)
    save_time()
    _report_training(ctx, index, spec, result)
    ctx.store.record_model(index, result, parent=model_in, base=ctx.base_model, init=init)
    return Trained(result.output_dir, result.examples, result.steps)


def training_spec(ctx: RunContext, index: int, *, init: str, examples: list[dict], publish: PublishTo) -> TrainSpec:
    """The round's TrainSpec: the config's training section, the round's step budget and seed."""
    cfg = ctx.config.training
    return TrainSpec(
        init_model=init, output_dir=join(publish.location, publish.name), examples=examples,
        max_steps=None if cfg.epochs else steps_for_round(index, cfg.base_steps, cfg.step_growth),
        epochs=cfg.epochs, batch_size=cfg.batch_size, micro_batch_size=cfg.micro_batch_size,
        learning_rate=cfg.learning_rate, gradient_checkpointing=cfg.gradient_checkpointing,
        warmup_ratio=cfg.warmup_ratio, lr_schedule=cfg.lr_schedule,
        lora_rank=cfg.lora_rank if cfg.method == "lora" else None,
        seed=ctx.config.seed + index, max_length=training_max_length(ctx.config),
        bf16=train_in_bf16(ctx.config.generators.dtype, ctx.base_model, trainer_gpus=ctx.config.trainer.gpus,
                           tiny=ctx.config.model == TINY_MODEL),
        report=ctx.tracker.trainer_report(index), publish=publish, group=group_plan(ctx.config.trainer),
    )


def training_max_length(config: StarConfig) -> int:
    """training.max_length, else the engine's context (no generated example is longer)."""
    return config.training.max_length or config.generators.max_model_len


def train_with_retry(trainer, spec: TrainSpec, *, round_index: int, restart_timeout: float = 1800.0,
                     log: Callable[[str], None] = lambda message: None) -> TrainResult:
    """`trainer.train(spec)`, run again once on the restarted actor if the actor died."""
    def died(reason: str) -> None:
        log(f"round {round_index}: the trainer actor died ({reason}); training again from scratch")

    try:
        return call_with_restarts(trainer, "train", spec, tries=TRAIN_TRIES, restart_timeout=restart_timeout,
                                  on_death=died)
    except ActorLost as lost:
        raise TrainingFailed(
            f"round {round_index}: the trainer actor died twice while training (last: {lost.last}); "
            "the round's attempts are stored, so re-running `star run` with the same run_name trains "
            "again; check the trainer's memory (trainer.gpus/cpus, training.batch_size) and its logs"
        ) from None


def _engines_freed(ctx: RunContext, index: int) -> AbstractContextManager[None]:
    """colocate: the engines sleep while the trainer uses their GPU, and wake before evaluation."""
    if not ctx.config.colocate:
        return nullcontext()
    return engines_asleep(ctx.workers.generators, round_index=index, log=ctx.progress.log,
                          restart_timeout=ctx.config.recovery.restart_timeout)


def _report_training(ctx: RunContext, index: int, spec: TrainSpec, result: TrainResult) -> None:
    if spec.group is not None:
        ctx.log(index, f"trained on {spec.group.workers} workers ({spec.group.strategy}); the largest "
                       f"optimizer step saw {result.largest_step} examples (training.batch_size {spec.batch_size})")
    if result.truncated:
        ctx.log(index, f"{result.truncated} of {result.examples} training examples exceed {spec.max_length} "
                       "tokens and were cut at the end (their answers may be lost); raise training.max_length")
