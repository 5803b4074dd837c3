"""Supervised fine-tuning on accepted triplets with TRL's SFTTrainer.

Plain functions, no Ray: the trainer actor (workers/trainer.py) is a thin shell
over `train_sft`, and the tiny-model builder uses it for the seed model too.
Loss is on the completion only (TRL's prompt/completion dataset format).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from star.training.checkpoint import save_checkpoint
from star.training.prompts import count_truncated, render_prompts
from star.training.spec import TrainerReport, TrainResult, TrainSpec, examples_digest
from star.training.step_examples import StepExamples


def with_cpu_threads(spec: TrainSpec, processes: int = 1) -> TrainSpec:
    """A CPU trainer uses every core of its node, shared among the `processes` training on it,
    unless the spec says otherwise.

    Ray runs an actor or a Ray Train worker that reserves no CPU (the CPU trainer, so it fits
    next to the engines on a laptop) with OMP_NUM_THREADS=1, which left training on one core.
    Phases never overlap (the engines wait while the trainer runs), so the cores are free.
    """
    import torch

    if spec.num_threads is not None or torch.cuda.is_available():
        return spec
    return replace(spec, num_threads=cpu_training_threads(processes))


def cpu_training_threads(processes: int = 1) -> int:
    """Torch threads of each of `processes` CPU trainers sharing this node: its cores, split evenly."""
    return max(1, len(os.sched_getaffinity(0)) // max(1, processes))


def train_sft(spec: TrainSpec, *, progress: bool = True) -> TrainResult:
    """Fine-tune `spec.init_model` on `spec.examples`; saves model+tokenizer to `output_dir`.

    Writes to a temporary sibling directory and renames at the end, so a crash
    never leaves a half-written checkpoint that a resumed run would trust.
    """
    final_dir = Path(spec.output_dir)
    tmp_dir = final_dir.with_name(final_dir.name + ".partial")
    with report_env(spec.report):  # the HF callbacks read it when built and when training starts
        trainer = build_trainer(spec, tmp_dir, progress=progress)
        truncated = count_truncated(render_prompts(spec.examples, trainer.processing_class), trainer.processing_class,
                                    spec.max_length)
        step_examples = StepExamples(trainer)
        try:
            output = trainer.train()
        finally:
            _end_report_run(spec.report)
    steps = int(output.global_step)
    largest = count_then_save(step_examples, lambda: save_checkpoint(trainer, spec, tmp_dir, final_dir))
    return TrainResult(
        output_dir=str(final_dir),
        steps=steps,
        examples=len(spec.examples),
        final_loss=float(output.training_loss) if output.training_loss is not None else None,
        truncated=truncated,
        tokens=int(trainer.state.num_input_tokens_seen) if trainer.args.include_num_input_tokens_seen != "no" else None,
        train_seconds=output.metrics.get("train_runtime"),
        largest_step=largest,
        examples_digest=examples_digest(spec.examples),
    )


def count_then_save(step_examples: StepExamples, save: Callable[[], None]) -> int | None:
    """The step count's all-reduce first, then the save; the count.

    Under DDP / FSDP only rank 0 writes the checkpoint (up to ~15 GB for a 7B model), while the
    other ranks return from `save` at once. A collective after the save would keep them waiting in
    it for the whole write, and a write longer than the process group's timeout (Ray Train's
    TorchConfig.timeout_s, 1,800 s) would fail the round. FSDP's gathering of the full state
    dict inside `save` is itself a collective that every rank joins; that one is short.
    """
    largest = step_examples.largest_step()
    save()
    return largest


def batch_plan(batch_size: int, micro_batch_size: int | None, devices: int = 1) -> tuple[int, int]:
    """(per-device batch, gradient accumulation steps) so that one optimizer step sees `batch_size`
    examples: per_device x accumulation x devices == batch_size."""
    micro = micro_batch_size or batch_size // devices
    if micro < 1 or batch_size % (micro * devices):
        raise ValueError(f"batch_size {batch_size} is not a multiple of micro_batch_size {micro} x {devices} "
                         "device(s); pick a micro_batch_size that divides batch_size")
    return micro, batch_size // (micro * devices)


def build_trainer(spec: TrainSpec, output_dir: Path, *, progress: bool = True):
    """The SFTTrainer for `spec`, its dataset already tokenized (`trainer.train_dataset`)."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    if not spec.examples:
        raise ValueError("no training examples")
    if spec.num_threads:
        torch.set_num_threads(spec.num_threads)
    tokenizer, model = load_for_training(spec.init_model, progress=progress)
    per_device, accumulation = batch_plan(spec.batch_size, spec.micro_batch_size, spec.world_size)
    rows = render_prompts(spec.examples, tokenizer)
    run_args = local_run_args(bf16=spec.bf16, max_steps=spec.max_steps, progress=progress,
                              gradient_checkpointing=spec.gradient_checkpointing)
    args = SFTConfig(
        output_dir=str(output_dir),
        max_steps=spec.max_steps if spec.max_steps else -1,
        num_train_epochs=spec.epochs or 1.0,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accumulation,
        learning_rate=spec.learning_rate,
        lr_scheduler_type=spec.lr_schedule,
        warmup_steps=spec.warmup_ratio,  # a float < 1 is a ratio of total steps
        weight_decay=spec.weight_decay,
        seed=spec.seed,
        max_length=spec.max_length,
        completion_only_loss=True,
        **run_args | _report_args(spec.report)
        | sharding_args(spec.strategy, spec.world_size, run_args["gradient_checkpointing"]),
        eos_token=tokenizer.eos_token,
        **spec.extra,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=_lora_config(spec),
    )
    if spec.report:
        from star.training.report_guard import guard_reporting

        guard_reporting(trainer, spec.report.report_to)  # a tracking error must not fail the round
    if not progress:
        quiet(trainer)
    return trainer


def load_for_training(init_model: str, *, progress: bool) -> tuple[Any, Any]:
    """(tokenizer, float32 model) of `init_model`; without `progress`, the bars of datasets' maps and of
    transformers' weight loading and saving are off (the round shows its own progress)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not progress:
        from datasets.utils.logging import disable_progress_bar
        from transformers.utils import logging as transformers_logging

        disable_progress_bar()  # before the trainer maps the dataset
        transformers_logging.disable_progress_bar()  # "Loading weights" and "Writing model shards" bars
    tokenizer = AutoTokenizer.from_pretrained(init_model)
    # float32 master weights; bf16=True autocasts the matrix products only
    return tokenizer, AutoModelForCausalLM.from_pretrained(init_model, dtype=torch.float32)


def local_run_args(*, bf16: bool, max_steps: int | None, progress: bool,
                   gradient_checkpointing: bool | None = False) -> dict[str, Any]:
    """The TrainingArguments every star trainer (SFT, the verifier's DPO) shares.

    `gradient_checkpointing=None` turns it on exactly when there is a GPU: there activations, not
    weights, bound the micro-batch; on a CPU, memory is plentiful and the recompute costs a third.
    """
    import torch

    on_gpu = torch.cuda.is_available()
    checkpointing = on_gpu if gradient_checkpointing is None else gradient_checkpointing
    return {
        # TRL 1.x defaults to bf16 + gradient checkpointing; both hurt on a CPU without native bf16.
        "bf16": bf16 or (on_gpu and torch.cuda.is_bf16_supported()),
        "gradient_checkpointing": checkpointing,
        # non-reentrant: works with frozen inputs (LoRA) without enable_input_require_grads
        **({"gradient_checkpointing_kwargs": {"use_reentrant": False}} if checkpointing else {}),
        "use_cpu": not on_gpu,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": max(1, (max_steps or 100) // 10),
        "disable_tqdm": not progress,
        "dataloader_num_workers": 0,
    }


def sharding_args(strategy: str, world_size: int, checkpointing: bool) -> dict[str, Any]:
    """The HF Trainer's arguments for a worker group. DDP: the Trainer wraps the model itself
    when it runs in a process group. FSDP (version 2) shards parameters, gradients and optimizer
    state per decoder layer (the model's `_no_split_modules`), saves a full state dict, and
    recomputes activations through FSDP's own `activation_checkpointing` (the Trainer's
    gradient checkpointing would add an all-gather to the backward pass)."""
    if world_size < 2:
        return {}
    if strategy == "ddp":  # every parameter gets a gradient; the search for unused ones costs a graph walk per step
        return {"ddp_find_unused_parameters": False}
    return {"fsdp": True, "gradient_checkpointing": False,
            "fsdp_config": {"version": 2, "reshard_after_forward": True, "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
                            "state_dict_type": "FULL_STATE_DICT", "activation_checkpointing": checkpointing}}


def _report_args(report: TrainerReport | None) -> dict[str, Any]:
    """Where the trainer's own curves go (tracking on), else nowhere."""
    if report is None:
        return {"report_to": "none"}
    return {"report_to": list(report.report_to), "run_name": report.run_name}


@contextmanager
def report_env(report: TrainerReport | None) -> Iterator[None]:
    """`report.env` in os.environ for the duration, then the earlier values back."""
    env = report.env if report else {}
    earlier = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in earlier.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _end_report_run(report: TrainerReport | None) -> None:
    """transformers ends its MLflow run when training ends but leaves a W&B run open; the trainer
    actor lives on, so the next round's curves would land in this round's run."""
    if report is not None and "wandb" in report.report_to:
        import wandb

        wandb.finish()


def quiet(trainer) -> None:
    """No per-step log lines or dataset-map bars (the caller shows its own progress)."""
    from datasets.utils.logging import disable_progress_bar
    from transformers.trainer_callback import PrinterCallback

    disable_progress_bar()
    trainer.remove_callback(PrinterCallback)


def _lora_config(spec: TrainSpec):
    if not spec.lora_rank:
        return None
    from peft import LoraConfig

    return LoraConfig(r=spec.lora_rank, lora_alpha=spec.lora_alpha, target_modules="all-linear",
                      task_type="CAUSAL_LM")


