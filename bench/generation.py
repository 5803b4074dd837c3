"""Generation-stage throughput: star's stage vs raw vLLM vs HF transformers, in one run.

star's stage = generator actor (vLLM) + checker pool + batched store writes,
driven by `star.loop.phase.run_phase` exactly as a round drives it. The raw vLLM
baseline is one `LLM.generate` call on the same prompts with the same sampling
settings and seeds; HF `generate` runs on a subset (it is far slower) with the
same temperature/top_p and max new tokens. Throughput = completion tokens / wall
time, engine start-up excluded for every contender.

    python bench/generation.py [--problems 1200] [--k 4] [--hf-problems 64]

`--dtype both` compares serving precisions instead: raw vLLM in float32, then
in bfloat16, on the same prompts (e.g. SmolLM2 with a few-shot prompt):

    python bench/generation.py --model ~/.cache/star/models/smollm2-135m --dtype both \
        --shots 4 --max-digits 3 --problems 16 --k 2 --max-tokens 64
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")


def build_requests(n_problems: int, k: int, max_tokens: int, shots: int = 0, max_digits: int = 5):
    from star.config.tasks import ArithmeticTaskConfig
    from star.engines.requests import GenRequest, request_seed
    from star.tasks.arithmetic import ArithmeticTask

    per_digits = max(1, -(-n_problems // max_digits))
    task = ArithmeticTask(ArithmeticTaskConfig(max_digits=max_digits, train_per_digits=per_digits,
                                               eval_per_digits=1, shots=shots))
    problems = task.train_problems()[:n_problems]
    requests = [
        GenRequest(i, "direct", task.prompt(p), k, 0.8, 1.0, max_tokens, task.stop,
                   request_seed(0, 1, p.uid, "direct"))
        for i, p in enumerate(problems)
    ]
    return task, {i: p for i, p in enumerate(problems)}, requests


def bench_star(model: str, task, problems, requests, batch: int) -> tuple[float, int]:
    import ray

    from db.engine import open_store, session_factory
    from db.store import ProblemRow, get_or_create_round, get_or_create_run, upsert_problems
    from star.engines.vllm_engine import EngineSpec
    from star.loop.phase import run_phase
    from star.loop.recorder import AttemptRecorder
    from workers.checker_pool import CheckerActor
    from workers.generator import GeneratorActor

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    generator = GeneratorActor.options(num_cpus=0).remote(EngineSpec(model=model, dtype="float32", max_model_len=512))
    checker = CheckerActor.options(num_cpus=0).remote(1, 5.0, task.for_checking(), "answer")
    ray.get(generator.ready.remote())
    tmp = tempfile.mkdtemp()
    sessions = session_factory(open_store(f"sqlite:///{tmp}/bench.db"))
    with sessions() as session, session.begin():
        run = get_or_create_run(session, "bench", config={}, base_model=model)
        ids = upsert_problems(session, "arithmetic", "train",
                              [ProblemRow(p.uid, p.question, p.gold, {}) for p in problems.values()])
        round_id = get_or_create_round(session, run, 1).id
    id_of = {i: ids[p.uid] for i, p in problems.items()}
    requests = [r.__class__(**{**r.__dict__, "problem_id": id_of[r.problem_id]}) for r in requests]
    by_store_id = {id_of[i]: p for i, p in problems.items()}
    recorder = AttemptRecorder(sessions, task=task, round_id=round_id, model=model, write_batch=2000)
    started = time.perf_counter()
    scored = run_phase(requests, by_store_id, generators=[generator], checker=checker,
                       store_batch=recorder, batch_size=batch, model=model)
    elapsed = time.perf_counter() - started
    tokens = sum(s.completion.completion_tokens for s in scored)
    assert recorder.inserted == len(scored), "every completion must be stored"
    ray.shutdown()
    return elapsed, tokens


def bench_raw_vllm(model: str, requests, dtype: str = "float32", max_model_len: int = 512) -> tuple[float, int]:
    from vllm import LLM, SamplingParams

    llm = LLM(model=model, dtype=dtype, max_model_len=max_model_len, enforce_eager=True,
              enable_chunked_prefill=False, max_num_batched_tokens=4096)
    params = [SamplingParams(n=r.n, temperature=r.temperature, top_p=r.top_p, max_tokens=r.max_tokens,
                             seed=r.seed, stop=list(r.stop) or None) for r in requests]
    started = time.perf_counter()
    outputs = llm.generate([r.prompt for r in requests], params, use_tqdm=False)
    elapsed = time.perf_counter() - started
    tokens = sum(len(c.token_ids) for o in outputs for c in o.outputs)
    del llm
    gc.collect()
    return elapsed, tokens


def bench_hf(model: str, requests, batch: int = 32) -> tuple[float, int]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left")
    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
    tokens, started = 0, time.perf_counter()
    for start in range(0, len(requests), batch):
        chunk = requests[start : start + batch]
        enc = tokenizer([r.prompt for r in chunk], return_tensors="pt", padding=True)
        with torch.no_grad():
            out = lm.generate(**enc, do_sample=True, temperature=chunk[0].temperature, top_p=chunk[0].top_p,
                              max_new_tokens=chunk[0].max_tokens, num_return_sequences=chunk[0].n,
                              pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        tokens += int(((new != tokenizer.pad_token_id) & (new != tokenizer.eos_token_id)).sum())
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model path (default: the embedded tiny model, built if needed)")
    parser.add_argument("--problems", type=int, default=1200)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--batch", type=int, default=512, help="problems per generation request (star)")
    parser.add_argument("--hf-problems", type=int, default=1200)
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "both"), default="float32",
                        help="both: compare raw vLLM in float32 and bfloat16 (no star stage, no HF)")
    parser.add_argument("--shots", type=int, default=0, help="worked examples in each prompt (task.shots)")
    parser.add_argument("--max-digits", type=int, default=5)
    parser.add_argument("--max-model-len", type=int, default=512)
    parser.add_argument("--smoke", action="store_true",
                        help="Tiny sizes, so CI checks that the bench runs and prints its table (the numbers mean nothing).")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update({"problems": 24, "k": 2, "max_tokens": 40, "batch": 8, "hf_problems": 8})

    from star.models.tiny import ensure_tiny_model

    model = args.model or str(ensure_tiny_model())
    task, problems, requests = build_requests(args.problems, args.k, args.max_tokens, args.shots, args.max_digits)
    if args.dtype == "both":
        compare_dtypes(model, requests, args)
        return
    results = {}
    results["star stage (vLLM actor + checker + store)"] = bench_star(model, task, problems, requests, args.batch)
    results["raw vLLM LLM.generate"] = bench_raw_vllm(model, requests)
    results[f"HF transformers generate ({args.hf_problems} problems)"] = bench_hf(model, requests[: args.hf_problems])
    print_table(results, args)


def compare_dtypes(model: str, requests, args) -> None:
    """Raw vLLM throughput in float32 and in bfloat16 on the same requests."""
    from star.precision import cpu_supports_bf16

    results = {}
    for dtype in ("float32", "bfloat16"):
        results[dtype] = bench_raw_vllm(model, requests, dtype=dtype, max_model_len=args.max_model_len)
        gc.collect()
    print(f"\n{model}: {args.problems} problems x K={args.k}, {args.shots}-shot prompts, "
          f"max {args.max_tokens} new tokens, T=0.8; CPU native bf16: {cpu_supports_bf16()}")
    print(f"{'dtype':10s} {'seconds':>8s} {'tokens':>8s} {'tok/s':>8s}")
    for dtype, (seconds, tokens) in results.items():
        print(f"{dtype:10s} {seconds:8.1f} {tokens:8d} {tokens / seconds:8.1f}")
    rates = {dtype: tokens / seconds for dtype, (seconds, tokens) in results.items()}
    print(f"\nbfloat16 / float32 throughput = {rates['bfloat16'] / rates['float32']:.2f}")


def print_table(results: dict[str, tuple[float, int]], args) -> None:
    raw_rate = results["raw vLLM LLM.generate"][1] / results["raw vLLM LLM.generate"][0]
    print(f"\n{args.problems} problems x K={args.k}, max {args.max_tokens} new tokens, T=0.8")
    print(f"{'contender':52s} {'seconds':>8s} {'tokens':>9s} {'tok/s':>9s} {'vs raw vLLM':>12s}")
    for name, (seconds, tokens) in results.items():
        rate = tokens / seconds
        print(f"{name:52s} {seconds:8.1f} {tokens:9d} {rate:9.0f} {rate / raw_rate:11.2f}x")
    star_rate = results["star stage (vLLM actor + checker + store)"][1] / results["star stage (vLLM actor + checker + store)"][0]
    print(f"\nstar stage / raw vLLM = {star_rate / raw_rate:.2f} (target >= 0.85)")


if __name__ == "__main__":
    main()
