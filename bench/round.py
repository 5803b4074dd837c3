"""A STaR round against its engine-bound parts: star's round vs raw vLLM `generate` + plain TRL, in one process.

First a real `star run` of the config (the embedded default, or `--config`) up to
round `--round`, in this process, with a private Ray and a SQLite store in a temp
folder. The loop's own calls are wrapped (each still runs as it would) to record
round R's requests per phase, its TrainSpec and the wall time of the round and of
each phase. Then the same work without star: one raw vLLM `LLM.generate` per phase
on the same prompts with the same sampling settings and seeds (engines built with
the settings star's generator uses, start-up excluded: star's engines were up before
the round too; evaluation on the checkpoint the round trained), and TRL's
`SFTTrainer` written out by hand (bench/training.py's `plain_trl`) on the round's
training examples with its steps, batch, precision, LoRA and threads.

The ratio is the round's wall time over the sum of those parts. What it charges to
star: the driver and Ray calls, batching through the checker and the store, the
hinted re-prompts' bookkeeping, publishing the checkpoint and loading it into the
engine, re-checks. Checking itself runs beside generation, so it is not a part.

    python bench/round.py                                        # round 1 of the embedded default
    python bench/round.py --config examples/smollm2_arithmetic.yaml
    python bench/round.py --smoke --model PATH                    # tiny sizes (CI)
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/training.py: the plain TRL side

#: phase -> the attempt kinds it stores (their completion tokens are the phase's output)
PHASE_KINDS = {"generate": ("direct",), "rationalize": ("rationalized",), "evaluate": ("eval", "eval_sample")}
#: config fields for `--smoke`: a round of a few problems and steps (the numbers mean nothing)
SMOKE = {"task.max_digits": 2, "task.train_per_digits": 8, "task.eval_per_digits": 3,
         "sampling.samples_per_problem": 2, "sampling.max_new_tokens": 48, "evaluation.max_new_tokens": 48,
         "evaluation.samples": 2, "evaluation.k": 2, "training.base_steps": 2, "training.batch_size": 8}
TARGET = 1.10


@dataclass
class PhaseRun:
    """One phase of the round as star ran it: its requests, the model that served them, its wall time."""

    phase: str
    model: str
    requests: list
    seconds: float


@dataclass
class RoundRecord:
    index: int
    phases: list[PhaseRun] = field(default_factory=list)
    train_spec: Any = None
    train_steps: int = 0
    train_seconds: float = 0.0
    round_seconds: float = 0.0


@contextmanager
def recorded(index: int) -> Iterator[RoundRecord]:
    """Record round `index` by wrapping the loop's calls: each wrapper calls the original and times it."""
    from star.loop import evaluate, rounds, train

    record = RoundRecord(index)

    def stored_phase(original: Callable) -> Callable:
        def wrapper(ctx, round_index, model, requests, *, phase, problems=None):
            started = time.perf_counter()
            original(ctx, round_index, model, requests, phase=phase, problems=problems)
            if round_index == index:
                record.phases.append(PhaseRun(phase, model, list(requests), time.perf_counter() - started))
        return wrapper

    def train_with_retry(trainer, spec, *, round_index, **kwargs):
        started = time.perf_counter()
        result = originals[(train, "train_with_retry")](trainer, spec, round_index=round_index, **kwargs)
        if round_index == index:
            record.train_spec, record.train_steps = spec, result.steps
            record.train_seconds = time.perf_counter() - started
        return result

    def star_round(ctx, round_index):
        started = time.perf_counter()
        originals[(rounds, "star_round")](ctx, round_index)
        if round_index == index:
            record.round_seconds = time.perf_counter() - started

    originals = {(rounds, "run_stored_phase"): rounds.run_stored_phase,
                 (evaluate, "run_stored_phase"): evaluate.run_stored_phase,
                 (train, "train_with_retry"): train.train_with_retry, (rounds, "star_round"): rounds.star_round}
    rounds.run_stored_phase = stored_phase(rounds.run_stored_phase)
    evaluate.run_stored_phase = stored_phase(evaluate.run_stored_phase)
    train.train_with_retry, rounds.star_round = train_with_retry, star_round
    try:
        yield record
    finally:
        for (module, name), original in originals.items():
            setattr(module, name, original)


def run_star_round(config, index: int) -> RoundRecord:
    """`star run` of `config` (its rounds set to `index`), recording round `index`."""
    import ray

    from star.run.driver import run_star

    with recorded(index) as record:
        run_star(config)
    ray.shutdown()  # the raw parts get the cores to themselves
    return record


def star_tokens(url: str, run_name: str, index: int) -> dict[str, int]:
    """Completion tokens the round stored, per phase."""
    from db.engine import open_store, session_factory
    from db.ledger import TOKEN_COUNTS, token_counts
    from db.store import get_round, get_run

    sessions = session_factory(open_store(url))
    with sessions() as session:
        round_id = get_round(session, get_run(session, run_name), index).id
        counts = token_counts(session, [round_id])[round_id]
    return {phase: sum(counts[TOKEN_COUNTS[kind]] for kind in kinds) for phase, kinds in PHASE_KINDS.items()}


def raw_vllm(config, record: RoundRecord) -> dict[str, tuple[float, int]]:
    """(seconds, completion tokens) of one raw `LLM.generate` per phase, one engine per model served."""
    from star.run.workers import engine_spec

    results: dict[str, tuple[float, int]] = {}
    models = list(dict.fromkeys(run.model for run in record.phases))
    for model in models:
        llm = _raw_llm(engine_spec(config, model))
        for run in (r for r in record.phases if r.model == model):
            results[run.phase] = _timed_generate(llm, run.requests)
        del llm
        gc.collect()
    return results


def _raw_llm(spec):
    """vLLM's `LLM` with the settings star's generator engine passes (star/engines/vllm_engine.py)."""
    from vllm import LLM

    cpu = {"enable_chunked_prefill": False, "max_num_batched_tokens": max(spec.max_model_len, 4096)} if spec.on_cpu else {}
    return LLM(model=spec.model, dtype=spec.dtype, max_model_len=spec.max_model_len,
               tensor_parallel_size=spec.tensor_parallel_size, gpu_memory_utilization=spec.gpu_memory_utilization,
               enforce_eager=spec.enforce_eager, seed=spec.seed, **cpu)


def _timed_generate(llm, requests: list) -> tuple[float, int]:
    from vllm import SamplingParams

    from star.training.prompts import render_prompt

    tokenizer = llm.get_tokenizer()  # chat turns -> the text star's engine sends for them
    prompts = [render_prompt([{"role": role, "content": text} for role, text in r.messages] if r.messages
                             else r.prompt, tokenizer) for r in requests]
    params = [SamplingParams(n=r.n, temperature=r.temperature, top_p=r.top_p, max_tokens=r.max_tokens,
                             stop=list(r.stop) or None, seed=r.seed) for r in requests]
    started = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - started
    return seconds, sum(len(sample.token_ids) for output in outputs for sample in output.outputs)


def raw_trl(record: RoundRecord, workdir: Path) -> tuple[float, int]:
    """(end-to-end seconds, steps) of plain TRL on the round's examples, with its spec's settings and the
    threads star's CPU trainer uses (`with_cpu_threads`: every core)."""
    from training import BenchOptions, trl_with_threads
    from transformers import AutoTokenizer

    from star.training.prompts import render_prompts
    from star.training.sft import with_cpu_threads

    spec = with_cpu_threads(record.train_spec)
    rows = render_prompts(spec.examples, AutoTokenizer.from_pretrained(spec.init_model))  # chat -> the engine's text
    options = BenchOptions(model=spec.init_model, steps=record.train_steps, batch_size=spec.batch_size,
                           micro_batch_size=spec.micro_batch_size, max_length=spec.max_length, bf16=spec.bf16,
                           gradient_checkpointing=spec.gradient_checkpointing, learning_rate=spec.learning_rate,
                           seed=spec.seed, lora_rank=spec.lora_rank, lora_alpha=spec.lora_alpha)
    measured = trl_with_threads(options, rows, workdir / "plain-trl", spec.num_threads or os.cpu_count() or 1)
    return measured.wall_seconds, measured.steps


def print_table(record: RoundRecord, tokens: dict[str, int], raw: dict[str, tuple[float, int]], title: str) -> float:
    """The round phase by phase against its parts; returns the round's wall time over the parts' sum."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("phase", "star s", "raw s", "star / raw", "star tokens", "raw tokens"):
        table.add_column(column, justify="right")
    star_seconds = {run.phase: run.seconds for run in record.phases}
    if record.train_spec is not None:
        star_seconds["train"] = record.train_seconds
    for phase in ("generate", "rationalize", "train", "evaluate"):
        if phase not in raw:
            table.add_row(phase, "-", "-", "-", "-", "-")  # the round had none (nothing failed, or accepted)
            continue
        (raw_s, raw_n), star_s = raw[phase], star_seconds[phase]
        star_n = str(record.train_steps) + " steps" if phase == "train" else f"{tokens[phase]:,}"
        raw_count = f"{raw_n} steps" if phase == "train" else f"{raw_n:,}"
        table.add_row(phase, f"{star_s:.1f}", f"{raw_s:.1f}", f"{star_s / raw_s:.2f}x", star_n, raw_count)
    parts = sum(seconds for seconds, _ in raw.values())
    between = record.round_seconds - sum(star_seconds.values())
    table.add_row("between phases", f"{between:.1f}", "", "", "", "")
    table.add_row("round", f"{record.round_seconds:.1f}", f"{parts:.1f}", f"{record.round_seconds / parts:.2f}x", "", "")
    Console(width=160).print(table)
    ratio = record.round_seconds / parts
    print(f"round / sum of its engine-bound parts = {ratio:.2f} (target <= {TARGET:.2f})")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="run config (default: the embedded default)")
    parser.add_argument("--model", help="model to start from (default: the config's)")
    parser.add_argument("--round", type=int, default=1, help="the round to measure (earlier ones run first)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE",
                        help="a config override, as `star run --set` (YAML value)")
    parser.add_argument("--smoke", action="store_true",
                        help="Tiny sizes, so CI checks that the bench runs and prints its table (the numbers mean nothing).")
    args = parser.parse_args()

    import yaml

    from star.config import load_config

    workdir = Path(tempfile.mkdtemp(prefix="star-bench-round-"))
    overrides: dict[str, Any] = dict(SMOKE) if args.smoke else {}
    overrides.update({key: yaml.safe_load(value) for key, value in (s.split("=", 1) for s in args.sets)})
    overrides.update({"rounds": args.round, "run_name": "bench-round", "database": f"sqlite:///{workdir}/star.db",
                      "storage": str(workdir / "runs")})
    if args.model:
        overrides["model"] = args.model
    config = load_config(args.config, overrides)
    record = run_star_round(config, args.round)
    tokens = star_tokens(config.database, config.run_name, args.round)
    raw = raw_vllm(config, record)
    if record.train_spec is not None:
        raw["train"] = raw_trl(record, workdir)
    name = args.config.name if args.config else "the embedded default"
    print_table(record, tokens, raw, f"round {args.round} of {name}{' (smoke sizes)' if args.smoke else ''}")


if __name__ == "__main__":
    main()
