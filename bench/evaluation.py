"""Held-out evaluation cost: greedy alone vs greedy + maj@k/pass@k from k samples, in one run.

Both use `star.loop.evaluate.evaluate_round`, exactly as a round does (vLLM
generator actor, checker pool, SQLite store, answer classes for the vote), on
the same model and workers. A first greedy pass warms the engine up and is not
counted. The sampled evaluation generates k + 1 answers per problem where greedy
generates 1; since one request asks vLLM for all k samples (`n=k`), they share
the prompt's prefill and run in the same batches, so the time grows far less
than k + 1 times.

    python bench/evaluation.py [--model PATH] [--eval-per-digits 40] [--k 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="Model folder (default: the embedded tiny model).")
    parser.add_argument("--eval-per-digits", type=int, default=40, help="Held-out problems per digit count (1-5).")
    parser.add_argument("--k", type=int, default=8, help="Samples per problem for maj@k / pass@k.")
    parser.add_argument("--smoke", action="store_true",
                        help="Tiny sizes, so CI checks that the bench runs and prints its table (the numbers mean nothing).")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update({"eval_per_digits": 2, "k": 2})

    from star.models.tiny import ensure_tiny_model

    model = args.model or str(ensure_tiny_model(progress=False))
    ctx = _context(model, args.eval_per_digits, Path(tempfile.mkdtemp()))
    try:
        timings, metrics = _measure(ctx, model, args.k)
    finally:
        from star.run.workers import stop_workers

        stop_workers(ctx.workers)
    _report(timings, metrics, len(ctx.held_out), args.k, model)


def _context(model: str, per_digits: int, tmp: Path):
    import db.store as store
    from db.engine import open_store, session_factory
    from star.config import validate_config
    from star.loop.context import RunContext
    from star.progress import Progress
    from star.run.driver import store_problems
    from star.run.ray_start import init_ray
    from star.run.workers import start_workers
    from star.tasks import build_task

    config = validate_config({
        "model": model, "database": f"sqlite:///{tmp}/bench.db", "storage": str(tmp),
        "task": {"name": "arithmetic", "min_digits": 1, "max_digits": 5, "train_per_digits": 1,
                 "eval_per_digits": per_digits},
        "evaluation": {"max_new_tokens": 200}, "generators": {"max_model_len": 512}, "checker": {"workers": 1},
    })
    task = build_task(config.task)
    sessions = session_factory(open_store(config.database))
    with sessions() as session, session.begin():
        store.get_or_create_run(session, "bench", config=config.model_dump(mode="json"), base_model=model)
        held_out = store_problems(session, task, "eval", task.eval_problems())
    init_ray(config)
    workers = start_workers(config, model, task)
    return RunContext(config=config, task=task, sessions=sessions, run_name="bench", base_model=model,
                      storage=tmp, train={}, held_out=held_out, workers=workers, progress=Progress(enabled=False))


def _measure(ctx, model: str, k: int) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    from dataclasses import replace

    import db.store as store
    from db.summaries import round_summaries
    from star.loop.evaluate import evaluate_round

    evaluation = ctx.config.evaluation
    greedy = replace(ctx, config=ctx.config.model_copy(update={"evaluation": evaluation.model_copy(
        update={"samples": 0})}))
    sampled = replace(ctx, config=ctx.config.model_copy(update={"evaluation": evaluation.model_copy(
        update={"samples": k, "k": k})}))
    evaluate_round(greedy, 0, model)  # warm-up: engine caches, checker workers, imports
    timings = {}
    for label, index, run_ctx in (("greedy", 1, greedy), (f"greedy + maj@{k}/pass@{k}", 2, sampled)):
        started = time.perf_counter()
        evaluate_round(run_ctx, index, model)
        timings[label] = time.perf_counter() - started
    with ctx.sessions() as session:
        rows = round_summaries(session, store.get_run(session, "bench"))
    metrics = {label: rows[index]["metrics"] for label, index in zip(timings, (1, 2))}
    return timings, metrics


def _report(timings: dict[str, float], metrics: dict[str, dict[str, float]], problems: int, k: int,
            model: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"held-out evaluation of {problems} problems, {Path(model).name}")
    for column in ("evaluation", "answers generated", "wall s", "accuracy", f"maj@{k}", f"pass@{k}"):
        table.add_column(column, justify="right")
    answers = {label: problems * (1 if i == 0 else k + 1) for i, label in enumerate(timings)}
    for label, seconds in timings.items():
        values = metrics[label]
        table.add_row(label, str(answers[label]), f"{seconds:.1f}",
                      *[_pct(values.get(name)) for name in ("accuracy", f"maj@{k}", f"pass@{k}")])
    console = Console(width=140)
    console.print(table)
    (greedy_s, sampled_s), (greedy_n, sampled_n) = timings.values(), answers.values()
    console.print(f"time ratio {sampled_s / greedy_s:.2f}x for {sampled_n / greedy_n:.0f}x the answers; "
                  f"the {k} samples alone cost {(sampled_s - greedy_s) / greedy_s:.2f}x a greedy pass")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


if __name__ == "__main__":
    main()
