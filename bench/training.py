"""Trainer throughput: star's trainer actor vs plain TRL SFTTrainer, same model, data and batch, in one run.

star's side is the code path of a round: the Ray trainer actor (workers/trainer.py,
started with `star.run.workers.trainer_options`, as `start_workers` does) called through
`star.loop.train.train_with_retry`, as `train_round` calls it. The spec crosses to the
actor, which loads the model, builds TRL's SFTTrainer (`star.training.build_trainer`),
trains and saves the checkpoint. The baseline is TRL's SFTTrainer written out by hand
in this process with the same model, examples, batch plan, steps, max length,
precision, gradient checkpointing and completion-only loss.

Both count tokens the same way, with the HF Trainer's own counter of non-padding
input tokens (`include_num_input_tokens_seen="non_padding"`); with the same seed they
draw the same examples in the same order, so the two counts must be equal. Two rates:
the training loop alone (HF's `train_runtime`) and end to end (call to saved checkpoint:
loading, tokenizing, training, saving; for star also the Ray call). Both run with the
same torch threads (by default what a round's trainer uses: on a CPU every core of the
node, `with_cpu_threads`; the table shows the threads the actor really trained with,
read back from it after each run) and at the same CPU priority (Ray starts
workers at nice 15; this process lowers its own to match, which matters on a shared
machine). Each side first runs one untimed step (imports, allocator and kernel caches);
then `--repeats` alternating runs, medians reported.

    python bench/training.py [--steps 30] [--batch-size 16] [--micro-batch-size 8] [--max-length 512]
    python bench/training.py --device cuda --random-init-config qwen2-0.5b --shots 16 \
        --batch-size 64 --micro-batch-size 8 --max-length 2048 --steps 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

STAR = "star trainer actor (Ray, train_with_retry)"
TRL = "plain TRL SFTTrainer (this process)"

#: Qwen2.5 shapes for a random-weight model (no download): the compute of the real one, the char tokenizer's text
RANDOM_CONFIGS = {
    "qwen2-0.5b": {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                   "num_attention_heads": 14, "num_key_value_heads": 2},
    "qwen2-1.5b": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                   "num_attention_heads": 12, "num_key_value_heads": 2},
}
QWEN2_VOCAB = 151_936  # the logits over the full vocabulary are much of a small model's training cost


@dataclass(frozen=True)
class BenchOptions:
    model: str
    steps: int = 30
    batch_size: int = 16
    micro_batch_size: int | None = None
    max_length: int = 512
    device: str = "cpu"
    #: bf16 autocast over float32 weights, resolved as a round resolves it (`resolve_bf16`)
    bf16: bool = False
    #: None: star's rule, on with a GPU
    gradient_checkpointing: bool | None = None
    #: worked examples put before each prompt, for longer sequences (a few-shot prompt)
    shots: int = 0
    #: train on the first N examples only (None: all 540 seed examples)
    examples: int | None = None
    learning_rate: float = 1e-4
    seed: int = 0
    repeats: int = 3
    warmup: bool = True
    #: CPUs Ray reserves for the trainer actor on a GPU (trainer.cpus); on a CPU it reserves none
    trainer_cpus: int = 1
    #: torch threads of both sides (star: TrainSpec.num_threads). None: as many as a round's trainer
    #: uses (on a CPU every core of the node, `with_cpu_threads`), for both
    threads: int | None = None
    #: LoRA adapters of this rank on every linear layer, as star's `training.method: lora` (None: full)
    lora_rank: int | None = None
    lora_alpha: int = 32
    #: run TRL at the actor's CPU priority: Ray starts workers at nice 15, so on a shared machine a
    #: plain process at nice 0 would win the CPU from it for reasons that have nothing to do with star
    match_niceness: bool = True


@dataclass(frozen=True)
class Measurement:
    contender: str
    tokens: int
    steps: int
    train_seconds: float
    wall_seconds: float
    threads: int


def bench_examples(shots: int = 0) -> list[dict[str, str]]:
    """The tiny model's seed examples (arithmetic rationales); with `shots`, each prompt is
    preceded by that many other worked examples, whose tokens are prompt (no loss)."""
    from star.models.tiny import TinyModelRecipe, seed_examples

    examples = seed_examples(TinyModelRecipe())
    if not shots:
        return examples
    worked = [e["prompt"] + e["completion"] + "\n" for e in examples]
    return [{"prompt": "".join(worked[(i + 1 + j) % len(worked)] for j in range(shots)) + e["prompt"],
             "completion": e["completion"]} for i, e in enumerate(examples)]


def compare(options: BenchOptions, workdir: Path) -> dict[str, list[Measurement]]:
    """Run both sides (alternating, after an untimed warm-up step each) and return every timed run."""
    import ray

    from star.config import TrainerConfig, validate_config
    from star.run.ray_start import init_ray
    from star.run.workers import trainer_options
    from workers.trainer import TrainerActor

    examples = bench_examples(options.shots)[:options.examples]
    gpus = 1 if options.device == "cuda" else 0
    init_ray(validate_config({"model": options.model}))  # a private local Ray, as `star run` starts one
    trainer = TrainerConfig(gpus=gpus, cpus=options.trainer_cpus)
    actor = TrainerActor.options(**trainer_options(trainer), max_task_retries=0).remote()
    runs: dict[str, list[Measurement]] = {STAR: [], TRL: []}
    try:
        threads, niceness = ray.get(actor.__ray_call__.remote(_actor_threads_and_niceness()))
        if options.match_niceness and niceness > os.nice(0):
            os.nice(niceness - os.nice(0))  # a process can only lower its own priority, so match it here
        threads = options.threads or threads
        if options.warmup:
            warm = replace(options, steps=1)
            _star_run(actor, warm, examples, workdir / "warmup-star", threads)
            trl_with_threads(warm, examples, workdir / "warmup-trl", threads)
        for repeat in range(options.repeats):
            runs[STAR].append(_star_run(actor, options, examples, workdir / f"star-{repeat}", threads))
            runs[TRL].append(trl_with_threads(options, examples, workdir / f"trl-{repeat}", threads))
    finally:
        ray.kill(actor)
    return runs


def _actor_threads_and_niceness():
    """A function to run inside the actor (`__ray_call__`): the torch threads its training uses by
    default and its nice value. Made here, not at module level, so that cloudpickle sends it by value:
    the actor cannot import this file when a test loads it by path."""

    def probe(_actor: object) -> tuple[int, int]:
        import os

        import torch

        from star.training.sft import cpu_training_threads

        # What a round's train call sets, not what Ray started the actor with: Ray gives an actor that
        # reserves no CPU OMP_NUM_THREADS=1, and `with_cpu_threads` raises that to the node's cores at
        # each call. Probing torch here (1) while star trained on 2 made it look 1.5x faster than TRL.
        threads = torch.get_num_threads() if torch.cuda.is_available() else cpu_training_threads()
        return threads, os.nice(0)

    return probe


def _actor_torch_threads():
    """Run inside the actor after a train call: the torch threads that call trained with."""

    def probe(_actor: object) -> int:
        import torch

        return torch.get_num_threads()

    return probe


def _star_run(actor, options: BenchOptions, examples: list[dict[str, str]], out_dir: Path,
              threads: int) -> Measurement:
    import ray

    from star.loop.train import train_with_retry
    from star.training.spec import TrainSpec

    spec = TrainSpec(
        init_model=options.model, output_dir=str(out_dir), examples=examples, max_steps=options.steps,
        batch_size=options.batch_size, micro_batch_size=options.micro_batch_size,
        learning_rate=options.learning_rate, seed=options.seed, max_length=options.max_length,
        bf16=options.bf16, gradient_checkpointing=options.gradient_checkpointing, num_threads=threads,
        lora_rank=options.lora_rank, lora_alpha=options.lora_alpha, extra={"include_num_input_tokens_seen": "non_padding"},
    )
    started = time.perf_counter()
    result = train_with_retry(actor, spec, round_index=1)
    wall = time.perf_counter() - started
    _drop_checkpoint(out_dir)
    trained_with = ray.get(actor.__ray_call__.remote(_actor_torch_threads()))  # what the table shows is what ran
    return Measurement(STAR, result.tokens or 0, result.steps, result.train_seconds or 0.0, wall, trained_with)


def trl_with_threads(options: BenchOptions, examples: list[dict[str, str]], out_dir: Path, threads: int) -> Measurement:
    """`plain_trl` with `threads` torch threads, then this process's own number back (a test's process
    goes on to other tests)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return plain_trl(options, examples, out_dir)
    finally:
        torch.set_num_threads(before)


def plain_trl(options: BenchOptions, examples: list[dict[str, str]], out_dir: Path) -> Measurement:
    """TRL's SFTTrainer as its documentation sets it up, with star's settings for what changes the work."""
    import torch
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    disable_progress_bar()
    on_gpu = options.device == "cuda"
    checkpointing = on_gpu if options.gradient_checkpointing is None else options.gradient_checkpointing
    per_device = options.micro_batch_size or options.batch_size
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(options.model)
    model = AutoModelForCausalLM.from_pretrained(options.model, dtype=torch.float32)
    args = SFTConfig(
        output_dir=str(out_dir), max_steps=options.steps, per_device_train_batch_size=per_device,
        gradient_accumulation_steps=options.batch_size // per_device, learning_rate=options.learning_rate,
        seed=options.seed, max_length=options.max_length, completion_only_loss=True,
        bf16=options.bf16 or (on_gpu and torch.cuda.is_bf16_supported()), use_cpu=not on_gpu,
        gradient_checkpointing=checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if checkpointing else None,
        report_to="none", save_strategy="no", disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples),
                         processing_class=tokenizer, peft_config=_lora(options))
    trainer.remove_callback(PrinterCallback)  # no log lines in the table (star's trainer prints none either)
    output = trainer.train()
    trainer.save_model()
    wall = time.perf_counter() - started
    _drop_checkpoint(out_dir)
    tokens = int(trainer.state.num_input_tokens_seen)
    del trainer, model
    if on_gpu:
        torch.cuda.empty_cache()  # give the actor's next run the GPU memory back
    return Measurement(TRL, tokens, int(output.global_step), float(output.metrics["train_runtime"]), wall,
                       torch.get_num_threads())


def _lora(options: BenchOptions):
    if not options.lora_rank:
        return None
    from peft import LoraConfig

    return LoraConfig(r=options.lora_rank, lora_alpha=options.lora_alpha, target_modules="all-linear",
                      task_type="CAUSAL_LM")


def _drop_checkpoint(out_dir: Path) -> None:
    """Each run saves a whole checkpoint (GBs for a GPU-sized model); check it is there, then free the disk."""
    import shutil

    if not any((out_dir / name).exists() for name in ("config.json", "adapter_config.json")):  # full or LoRA
        raise RuntimeError(f"{out_dir} holds no saved model: the run did not finish what it was timed for")
    shutil.rmtree(out_dir)


def resolve_bf16(dtype: str, model: str, device: str) -> bool:
    """Whether both sides autocast to bfloat16: on a GPU, star's trainer does whenever the GPU
    supports it; on a CPU, `auto` is what a round picks (star.precision.train_in_bf16)."""
    if device == "cuda":
        if dtype == "float32":
            raise SystemExit("--dtype float32 on a GPU: star's trainer autocasts to bfloat16 on any GPU "
                             "that supports it; use --dtype auto")
        return False  # both sides then turn it on from the GPU (local_run_args and trl_with_threads)
    from star.precision import train_in_bf16

    return dtype == "bfloat16" or (dtype == "auto" and train_in_bf16("auto", model, trainer_gpus=0))


def precision_label(options: BenchOptions) -> str:
    """What both sides computed in, for the table's title."""
    if options.device == "cuda":
        import torch

        return "bf16 autocast" if torch.cuda.is_bf16_supported() else "float32"
    return "bf16 autocast" if options.bf16 else "float32"


def build_random_model(name: str, out_dir: Path) -> Path:
    """A random-weight Qwen2 of `name`'s shape with the tiny model's character tokenizer
    (a vocabulary of QWEN2_VOCAB rows, most never used), saved in bfloat16 like Qwen2.5."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from star.models.char_tokenizer import build_char_tokenizer
    from star.precision import declare_dtype

    tokenizer = build_char_tokenizer(out_dir)
    config = Qwen2Config(
        vocab_size=QWEN2_VOCAB, max_position_embeddings=32768, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, **RANDOM_CONFIGS[name],
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).to(torch.bfloat16).save_pretrained(str(out_dir))
    declare_dtype(out_dir, "bfloat16")
    return out_dir


def medians(runs: list[Measurement]) -> Measurement:
    tokens = {run.tokens for run in runs}
    assert len(tokens) == 1, f"one side counted different tokens in different repeats: {tokens}"
    return Measurement(runs[0].contender, runs[0].tokens, runs[0].steps,
                       statistics.median(run.train_seconds for run in runs),
                       statistics.median(run.wall_seconds for run in runs), runs[0].threads)


def report(runs: dict[str, list[Measurement]], options: BenchOptions, title: str) -> float:
    """Print the table; returns star's training-loop tokens/s over TRL's (medians)."""
    from rich.console import Console
    from rich.table import Table

    star, trl = medians(runs[STAR]), medians(runs[TRL])
    table = Table(title=title)
    for column in ("contender", "threads", "tokens", "steps", "train s", "train tok/s", "vs TRL", "end-to-end s",
                   "end-to-end tok/s", "vs TRL"):
        table.add_column(column, justify="right")
    for side in (star, trl):
        table.add_row(side.contender, str(side.threads), f"{side.tokens:,}", str(side.steps),
                      f"{side.train_seconds:.1f}", f"{_rate(side, 'train'):,.0f}",
                      f"{_rate(side, 'train') / _rate(trl, 'train'):.2f}x", f"{side.wall_seconds:.1f}",
                      f"{_rate(side, 'wall'):,.0f}", f"{_rate(side, 'wall') / _rate(trl, 'wall'):.2f}x")
    console = Console(width=160)
    console.print(table)
    if star.tokens != trl.tokens:
        console.print(f"[red]token counts differ ({star.tokens} vs {trl.tokens}): the sides did not do the same work")
    ratio = _rate(star, "train") / _rate(trl, "train")
    pairs = ", ".join(f"{_rate(s, 'train') / _rate(b, 'train'):.2f}x" for s, b in zip(runs[STAR], runs[TRL]))
    console.print(f"star's trainer actor: {ratio:.2f}x plain TRL's training-loop tokens/s (target >= 0.90x), "
                  f"{_rate(star, 'wall') / _rate(trl, 'wall'):.2f}x end to end; medians of {options.repeats} "
                  f"alternating runs (run by run: {pairs}); TRL ran at nice {os.nice(0)}")
    return ratio


def _rate(side: Measurement, clock: str) -> float:
    return side.tokens / (side.train_seconds if clock == "train" else side.wall_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the embedded tiny model, built if needed)")
    parser.add_argument("--random-init-config", choices=sorted(RANDOM_CONFIGS),
                        help="instead of --model: a random-weight model of this shape (nothing downloaded)")
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per run")
    parser.add_argument("--batch-size", type=int, default=16, help="examples per optimizer step")
    parser.add_argument("--micro-batch-size", type=int, help="examples per forward/backward pass (default: batch)")
    parser.add_argument("--max-length", type=int, default=512, help="longest example in tokens")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--dtype", choices=("auto", "float32", "bfloat16"), default="auto",
                        help="bf16 autocast or not (auto: as a round decides)")
    parser.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=None,
                        help="default: star's rule, on with a GPU")
    parser.add_argument("--shots", type=int, default=0, help="worked examples before each prompt (longer rows)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (medians are shown)")
    parser.add_argument("--trainer-cpus", type=int, default=1, help="trainer.cpus for the actor on a GPU")
    parser.add_argument("--match-niceness", action=argparse.BooleanOptionalAction, default=True,
                        help="run TRL at the nice value Ray gives the actor (15), as on a shared machine it matters")
    parser.add_argument("--threads", type=int,
                        help="torch threads of both sides (default: what a round's trainer uses)")
    parser.add_argument("--smoke", action="store_true",
                        help="Tiny sizes, so CI checks that the bench runs and prints its table (the numbers mean nothing).")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update({"steps": 2, "batch_size": 8, "max_length": 64, "repeats": 1})

    workdir = Path(tempfile.mkdtemp(prefix="star-bench-training-"))
    if args.random_init_config:
        model = str(build_random_model(args.random_init_config, workdir / args.random_init_config))
    else:
        from star.models.tiny import ensure_tiny_model

        model = args.model or str(ensure_tiny_model(progress=False))
    options = BenchOptions(
        model=model, steps=args.steps, batch_size=args.batch_size, micro_batch_size=args.micro_batch_size,
        max_length=args.max_length, device=args.device, bf16=resolve_bf16(args.dtype, model, args.device),
        gradient_checkpointing=args.gradient_checkpointing, shots=args.shots, repeats=args.repeats,
        trainer_cpus=args.trainer_cpus, threads=args.threads, match_niceness=args.match_niceness,
    )
    try:
        runs = compare(options, workdir)
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)  # the random-weight model, if one was built
    micro = options.micro_batch_size or options.batch_size
    report(runs, options, f"SFT on {Path(model).name}, {options.device}, batch {options.batch_size} "
                          f"(micro {micro}), {options.steps} steps, max_length {options.max_length}, "
                          f"{precision_label(options)}")


if __name__ == "__main__":
    main()
