"""STaR rounds, in the paper's order: generate -> check -> rationalize -> store -> train -> evaluate.

Every step is an explicit `ray.get` / `ray.wait` on an actor call. The store is
the source of truth: attempts already stored are not generated again, a round
whose checkpoint is recorded is not trained again, and a finished round is
skipped, so re-running a run name continues where it stopped.
"""

from __future__ import annotations

from star.engines.requests import GenRequest, chat_turns, request_seed
from star.evaluation.heldout import GREEDY
from star.loop.balance import round_temperature
from star.loop.context import RunContext
from star.loop.evaluate import evaluate_round, heldout_work_counts
from star.loop.frontier import allocate_samples, allocation_summary, last_round_record
from star.loop.rationalization import hinted_requests
from star.loop.stored_phase import run_stored_phase
from star.loop.train import train_round
from star.tasks.base import Problem
from star.tracking.rounds import log_round


def run_rounds(ctx: RunContext) -> None:
    """Round 0 evaluates the starting model; rounds 1..N are STaR iterations."""
    if not ctx.store.is_done(0):
        evaluate_round(ctx, 0, ctx.base_model)
        finish_round(ctx, 0, model_in=ctx.base_model, model_out=ctx.base_model, counts={})
    for index in range(1, ctx.config.rounds + 1):
        if not ctx.store.is_done(index):
            star_round(ctx, index)


def star_round(ctx: RunContext, index: int) -> None:
    model_in = ctx.store.model_out(index - 1) or ctx.base_model
    ctx.store.mark(index, status="generating", model_in=model_in)

    direct = generate_direct(ctx, index, model_in)
    failed = {pid: p for pid, p in ctx.train.items() if pid not in direct}
    rationalized: set[int] = set()
    if ctx.config.rationalization.enabled and failed:
        rationalized = rationalize(ctx, index, model_in, failed)

    ctx.store.mark(index, status="training")
    trained = train_round(ctx, index, model_in)

    accuracy = evaluate_round(ctx, index, trained.model)
    counts = {
        "attempted": len(ctx.train), "accepted_direct": len(direct),
        "accepted_rationalized": len(rationalized), "train_examples": trained.examples,
        "train_steps": trained.steps,
    }
    finish_round(ctx, index, model_in=model_in, model_out=trained.model, counts=counts)
    ctx.log(index, f"held-out accuracy {accuracy:.1%}")


def generate_direct(ctx: RunContext, index: int, model: str) -> set[int]:
    """K rationales per training problem (or the frontier split of that budget); returns the problems
    with an accepted one."""
    cfg = ctx.config.sampling
    stop = tuple(cfg.stop) + tuple(ctx.task.stop)
    samples = samples_per_problem(ctx, index)
    temperature = round_temperature(ctx, index, model)
    requests = [
        GenRequest(pid, "direct", ctx.task.prompt(p), samples[pid], temperature, cfg.top_p,
                   cfg.max_new_tokens, stop, request_seed(ctx.config.seed, index, p.uid, "direct"),
                   chat_turns(ctx.task, ctx.task.prompt(p)))
        for pid, p in ctx.train.items()
    ]
    run_stored_phase(ctx, index, model, requests, phase="generate")
    return ctx.store.accepted_problems(index, "direct")


def samples_per_problem(ctx: RunContext, index: int) -> dict[int, int]:
    """Direct samples per training problem in round `index`: K each, or the frontier split of K x problems
    by how the previous round's samples fared (read from the store, so a resumed round asks the same)."""
    cfg = ctx.config.sampling
    if cfg.allocation == "uniform" or index <= 1:
        return dict.fromkeys(ctx.train, cfg.samples_per_problem)
    record = last_round_record(ctx.store.verdicts(index - 1, "direct"))
    counts = allocate_samples(list(ctx.train), record, k=cfg.samples_per_problem,
                              solved_samples=cfg.solved_samples, max_samples=cfg.max_samples_per_problem)
    ctx.log(index, allocation_summary(counts, record))
    return counts


def rationalize(ctx: RunContext, index: int, model: str, failed: dict[int, Problem]) -> set[int]:
    """Hinted retries of failed problems; accepted ones are stored with the hint removed."""
    cfg, sampling = ctx.config.rationalization, ctx.config.sampling
    requests = hinted_requests(
        ctx.task, failed, n=cfg.samples_per_problem, temperature=cfg.temperature, top_p=sampling.top_p,
        max_tokens=sampling.max_new_tokens, stop=tuple(sampling.stop) + tuple(ctx.task.stop),
        run_seed=ctx.config.seed, round_index=index,
    )
    run_stored_phase(ctx, index, model, requests, phase="rationalize")
    return ctx.store.accepted_problems(index, "rationalized")


def finish_round(ctx: RunContext, index: int, *, model_in: str, model_out: str, counts: dict[str, int]) -> None:
    """Mark the round done with its counts (and how many held-out answers show their work), then send its
    metrics to the tracker."""
    work = heldout_work_counts(ctx.task, ctx.held_out, ctx.store.heldout_answers(index, GREEDY))
    ctx.store.finish(index, model_in=model_in, model_out=model_out, counts={**counts, **work})
    log_round(ctx.tracker, ctx.sessions, ctx.run_name, index)
