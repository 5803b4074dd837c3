"""STaR rounds, in the paper's order: generate -> check -> rationalize -> store -> train -> evaluate.

Every step is an explicit `ray.get` / `ray.wait` on an actor call. The store is
the source of truth: attempts already stored are not generated again, a round
whose checkpoint is recorded is not trained again, and a finished round is
skipped, so re-running a run name continues where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

import db.store as store
from db.models import Attempt, Round
from star.cluster import Workers
from star.config import TINY_MODEL, StarConfig
from star.engine_sleep import engines_asleep
from star.evaluation.heldout import (
    GREEDY, SAMPLED, HeldOutAnswer, heldout_metrics, heldout_requests, load_verifier,
)
from star.evaluation.strategies import Scorer
from star.frontier import allocate_samples, allocation_summary, last_round_record
from star.generation import GenRequest, chat_turns, request_seed
from star.pipeline import Recovery, run_phase
from star.precision import train_in_bf16
from star.progress import Progress
from star.recheck import call_checker, recheck_errors
from star.recorder import AttemptRecorder
from star.run_storage import PublishTo, checkpoint_exists, checkpoint_name, discard_unrecorded, run_location
from star.selection import Triplet, as_sft_rows, select_examples
from star.storage_uri import join
from star.tasks.base import Problem, Task
from star.tracking.base import NullTracker, Tracker
from star.tracking.rounds import log_round
from star.train_group import group_plan
from star.train_retry import train_with_retry
from star.training import TrainSpec, steps_for_round
from star.verdicts import CHECK_ERRORS
from workers.rationalizer import hinted_requests


@dataclass
class RunContext:
    """What every round needs; built once per `star run`."""

    config: StarConfig
    task: Task
    sessions: sessionmaker[Session]
    run_name: str
    base_model: str
    storage: str  # a local folder (absolute) or a URI (star/run_storage.py)
    train: dict[int, Problem]
    held_out: dict[int, Problem]
    workers: Workers
    progress: Progress
    # Phase timings are wall seconds; injectable so tests need not wait.
    clock: Callable[[], float] = field(default=time.perf_counter)
    # evaluation.verifier path -> scorer; injectable so tests of the strategies need no trained verifier.
    scorer_factory: Callable[[str], Scorer] = field(default=load_verifier)
    # Optional experiment tracking (star/tracking): each finished round's metrics, the trainer's curves.
    tracker: Tracker = field(default_factory=NullTracker)


def run_rounds(ctx: RunContext) -> None:
    """Round 0 evaluates the starting model; rounds 1..N are STaR iterations."""
    if not _round_done(ctx, 0):
        evaluate_round(ctx, 0, ctx.base_model)
        _finish_round(ctx, 0, model_in=ctx.base_model, model_out=ctx.base_model, counts={})
    for index in range(1, ctx.config.rounds + 1):
        if _round_done(ctx, index):
            continue
        star_round(ctx, index)


def star_round(ctx: RunContext, index: int) -> None:
    model_in = _model_of_round(ctx, index - 1)
    _mark_round(ctx, index, status="generating", model_in=model_in)

    direct = generate_direct(ctx, index, model_in)
    failed = {pid: p for pid, p in ctx.train.items() if pid not in direct}
    rationalized: set[int] = set()
    if ctx.config.rationalization.enabled and failed:
        rationalized = rationalize(ctx, index, model_in, failed)

    _mark_round(ctx, index, status="training")
    model_out, n_examples, steps = train_round(ctx, index, model_in)

    accuracy = evaluate_round(ctx, index, model_out)
    counts = {
        "attempted": len(ctx.train), "accepted_direct": len(direct),
        "accepted_rationalized": len(rationalized), "train_examples": n_examples, "train_steps": steps,
    }
    _finish_round(ctx, index, model_in=model_in, model_out=model_out, counts=counts)
    ctx.progress.log(f"round {index}: held-out accuracy {accuracy:.1%}")


def generate_direct(ctx: RunContext, index: int, model: str) -> set[int]:
    """K rationales per training problem (or the frontier split of that budget); returns the problems
    with an accepted one."""
    cfg = ctx.config.sampling
    stop = tuple(cfg.stop) + tuple(ctx.task.stop)
    samples = samples_per_problem(ctx, index)
    requests = [
        GenRequest(pid, "direct", ctx.task.prompt(p), samples[pid], cfg.temperature, cfg.top_p,
                   cfg.max_new_tokens, stop, request_seed(ctx.config.seed, index, p.uid, "direct"),
                   chat_turns(ctx.task, ctx.task.prompt(p)))
        for pid, p in ctx.train.items()
    ]
    _run_stored_phase(ctx, index, model, requests, phase="generate")
    return _accepted_problems(ctx, index, "direct")


def samples_per_problem(ctx: RunContext, index: int) -> dict[int, int]:
    """Direct samples per training problem in round `index`: K each, or the frontier split of K x problems
    by how the previous round's samples fared (read from the store, so a resumed round asks the same)."""
    cfg = ctx.config.sampling
    if cfg.allocation == "uniform" or index <= 1:
        return dict.fromkeys(ctx.train, cfg.samples_per_problem)
    with ctx.sessions() as session:
        record = last_round_record(store.attempt_verdicts(session, _round_id(session, ctx, index - 1), "direct"))
    counts = allocate_samples(list(ctx.train), record, k=cfg.samples_per_problem,
                              solved_samples=cfg.solved_samples, max_samples=cfg.max_samples_per_problem)
    ctx.progress.log(f"round {index}: {allocation_summary(counts, record)}")
    return counts


def rationalize(ctx: RunContext, index: int, model: str, failed: dict[int, Problem]) -> set[int]:
    """Hinted retries of failed problems; accepted ones are stored with the hint removed."""
    cfg, sampling = ctx.config.rationalization, ctx.config.sampling
    requests = hinted_requests(
        ctx.task, failed, n=cfg.samples_per_problem, temperature=cfg.temperature, top_p=sampling.top_p,
        max_tokens=sampling.max_new_tokens, stop=tuple(sampling.stop) + tuple(ctx.task.stop),
        run_seed=ctx.config.seed, round_index=index,
    )
    _run_stored_phase(ctx, index, model, requests, phase="rationalize")
    return _accepted_problems(ctx, index, "rationalized")


def train_round(ctx: RunContext, index: int, model_in: str) -> tuple[str, int, int]:
    """Fine-tune on this round's accepted triplets; skipped when the checkpoint is recorded and the
    storage holds it complete."""
    with ctx.sessions() as session:
        run = store.get_run(session, ctx.run_name)
        recorded = store.get_model(session, run, index)
        if recorded is not None and checkpoint_exists(recorded.path):
            return recorded.path, recorded.train_examples, recorded.steps
        rows = store.accepted_triplets(session, _round_id(session, ctx, index))
        triplets = [Triplet(a.problem_id, a.train_prompt, a.completion, a.kind == "rationalized") for a in rows]
    cfg = ctx.config.training
    examples = select_examples(triplets, dedup=cfg.dedup, max_per_problem=cfg.max_per_problem)
    init = ctx.base_model if cfg.init_from == "base" else model_in
    if not examples:
        ctx.progress.log(f"round {index}: nothing accepted; keeping {model_in}")
        return model_in, 0, 0
    steps = None if cfg.epochs else steps_for_round(index, cfg.base_steps, cfg.step_growth)
    location, name = run_location(ctx.storage, ctx.run_name), checkpoint_name(index)
    if recorded is None:
        discard_unrecorded(location, name, lambda line: ctx.progress.log(f"round {index}: {line}"))
    spec = TrainSpec(
        init_model=init, output_dir=join(location, name), examples=as_sft_rows(examples, ctx.task),
        max_steps=steps,
        epochs=cfg.epochs, batch_size=cfg.batch_size, micro_batch_size=cfg.micro_batch_size,
        learning_rate=cfg.learning_rate, gradient_checkpointing=cfg.gradient_checkpointing,
        warmup_ratio=cfg.warmup_ratio, lr_schedule=cfg.lr_schedule,
        lora_rank=cfg.lora_rank if cfg.method == "lora" else None,
        seed=ctx.config.seed + index, max_length=training_max_length(ctx.config),
        bf16=train_in_bf16(ctx.config.generators.dtype, ctx.base_model, trainer_gpus=ctx.config.trainer.gpus,
                           tiny=ctx.config.model == TINY_MODEL),
        report=ctx.tracker.trainer_report(index),
        publish=PublishTo(location, name, ctx.config.checkpoint_cache),
        group=group_plan(ctx.config.trainer),
    )
    save_time = _phase_clock(ctx, index, "train")
    with ctx.progress.spinner(f"round {index}: training on {len(examples)} examples"), _engines_freed(ctx, index):
        result = train_with_retry(ctx.workers.trainer, spec, round_index=index, log=ctx.progress.log,
                                  restart_timeout=ctx.config.recovery.restart_timeout)
    save_time()
    if spec.group is not None:
        ctx.progress.log(f"round {index}: trained on {spec.group.workers} workers ({spec.group.strategy}); the largest "
                         f"optimizer step saw {result.largest_step} examples (training.batch_size {spec.batch_size})")
    if result.truncated:
        ctx.progress.log(f"round {index}: {result.truncated} of {result.examples} training examples exceed "
                         f"{spec.max_length} tokens and were cut at the end (their answers may be lost); "
                         "raise training.max_length")
    with ctx.sessions() as session, session.begin():
        store.record_model(
            session, run=store.get_run(session, ctx.run_name), round_index=index, path=result.output_dir,
            parent=model_in, base=ctx.base_model, train_examples=result.examples, steps=result.steps,
            metrics={"final_loss": result.final_loss, "init": init, "truncated": result.truncated},
        )
    return result.output_dir, result.examples, result.steps


def _engines_freed(ctx: RunContext, index: int) -> AbstractContextManager[None]:
    """colocate: the engines sleep while the trainer uses their GPU, and wake before evaluation."""
    if not ctx.config.colocate:
        return nullcontext()
    return engines_asleep(ctx.workers.generators, round_index=index, log=ctx.progress.log,
                          restart_timeout=ctx.config.recovery.restart_timeout)


def training_max_length(config: StarConfig) -> int:
    """training.max_length, else the engine's context (no generated example is longer)."""
    return config.training.max_length or config.generators.max_model_len


def evaluate_round(ctx: RunContext, index: int, model: str) -> float:
    """Greedy accuracy, maj@k and pass@k (and verifier strategies) on the held-out split,
    overall and per group; stored per round. Returns the greedy accuracy."""
    requests = heldout_requests(ctx.task, ctx.held_out, ctx.config, index)
    _run_stored_phase(ctx, index, model, requests, phase="evaluate", problems=ctx.held_out)
    with ctx.sessions() as session:
        round_id = _round_id(session, ctx, index)
        greedy, sampled = ([_answer(a) for a in store.round_attempts(session, round_id, kind)]
                           for kind in (GREEDY, SAMPLED))
    cfg = ctx.config.evaluation
    metrics = heldout_metrics(ctx.task, ctx.held_out, greedy, sampled, k=cfg.k,
                              same_answers=checker_same_answers(ctx.workers.checker, ctx.config),
                              scorer=ctx.scorer_factory(cfg.verifier) if cfg.verifier and sampled else None)
    with ctx.sessions() as session, session.begin():
        rnd = _round(session, ctx, index)
        for metric, value in metrics.items():
            store.record_evaluation(session, rnd, split="eval", metric=metric, value=value)
    return metrics["accuracy"]


def _answer(attempt: Attempt) -> HeldOutAnswer:
    return HeldOutAnswer(attempt.problem_id, attempt.sample_index, attempt.prompt, attempt.completion,
                         attempt.extracted, attempt.correct)


def checker_same_answers(checker, config: StarConfig) -> Callable[[list[tuple[str, str]]], list[bool]]:
    """The checker actor's answer equivalence (majority voting's answer classes)."""
    def same(pairs: list[tuple[str, str]]) -> list[bool]:
        return call_checker(checker, "same_answers", (pairs,), tries=config.recovery.batch_tries,
                            restart_timeout=config.recovery.restart_timeout,
                            what=f"comparing {len(pairs)} pairs of sampled answers",
                            fix="run the evaluation again (`star run` resumes the round)")
    return same


def _run_stored_phase(ctx: RunContext, index: int, model: str, requests: list[GenRequest], *,
                      phase: str, problems: dict[int, Problem] | None = None) -> None:
    """Run the requests whose attempts are not all stored yet (resume), re-check check errors, time it.

    The phase's stored time grows by the time of the work done now: a resumed
    phase with nothing left to do keeps the time it recorded before.
    """
    with ctx.sessions() as session, session.begin():
        round_id = _round_id(session, ctx, index)
        stored = store.attempt_keys(session, round_id)
    todo = [r for r in requests if any((r.problem_id, r.kind, i) not in stored for i in range(r.n))]
    kinds = tuple(sorted({r.kind for r in requests}))
    recorder = AttemptRecorder(ctx.sessions, task=ctx.task, round_id=round_id, model=model,
                               write_batch=ctx.config.store.write_batch)
    problems = problems or ctx.train
    save_time = _phase_clock(ctx, index, phase)
    if todo:
        with ctx.progress.bar(f"round {index}: {phase}", total=len(todo)) as advance:
            def progressed(n: int) -> None:
                advance(n)
                save_time()  # a driver killed mid-phase keeps the time spent so far
            run_phase(todo, problems, generators=ctx.workers.generators, checker=ctx.workers.checker,
                      store_batch=recorder, batch_size=ctx.config.sampling.batch_problems, model=model,
                      phase=f"round {index} {phase}", recovery=recovery_of(ctx.config), on_progress=progressed,
                      log=ctx.progress.log)
    rechecked, left = recheck_errors(ctx.sessions, ctx.workers.checker, round_id=round_id, kinds=kinds,
                                     problems=problems, timeout=ctx.config.checker.recheck_seconds,
                                     tries=ctx.config.recovery.batch_tries,
                                     restart_timeout=ctx.config.recovery.restart_timeout)
    if rechecked:
        ctx.progress.log(f"round {index}: {phase}: re-checked {rechecked} timed-out or crashed checks, "
                         f"{left} still failing (counted as check errors)")
    if todo or rechecked:
        save_time()


def recovery_of(config: StarConfig) -> Recovery:
    cfg = config.recovery
    return Recovery(batch_tries=cfg.batch_tries, batch_timeout=cfg.batch_timeout,
                    restart_timeout=cfg.restart_timeout)


def _phase_clock(ctx: RunContext, index: int, phase: str) -> Callable[[], None]:
    """Starts timing `phase`; each call of the returned function stores (earlier time + time since)."""
    with ctx.sessions() as session, session.begin():
        earlier = float(_round(session, ctx, index).timings.get(phase, 0.0))
    started = ctx.clock()

    def save() -> None:
        with ctx.sessions() as session, session.begin():
            store.update_round(session, _round(session, ctx, index),
                               timings={phase: earlier + ctx.clock() - started})

    return save


def _accepted_problems(ctx: RunContext, index: int, kind: str) -> set[int]:
    with ctx.sessions() as session:
        return {pid for pid, accepted in store.attempt_verdicts(session, _round_id(session, ctx, index), kind)
                if accepted}


def _round(session: Session, ctx: RunContext, index: int) -> Round:
    """The round row of this run (created on first use)."""
    return store.get_or_create_round(session, store.get_run(session, ctx.run_name), index)


def _round_id(session: Session, ctx: RunContext, index: int) -> int:
    return _round(session, ctx, index).id


def _round_done(ctx: RunContext, index: int) -> bool:
    with ctx.sessions() as session, session.begin():
        return _round(session, ctx, index).status == "done"


def _model_of_round(ctx: RunContext, index: int) -> str:
    if index == 0:
        return ctx.base_model
    with ctx.sessions() as session:
        rnd = _round(session, ctx, index)
        return rnd.model_out or ctx.base_model


def _mark_round(ctx: RunContext, index: int, *, status: str, model_in: str | None = None) -> None:
    with ctx.sessions() as session, session.begin():
        rnd = _round(session, ctx, index)
        store.update_round(session, rnd, status=status, model_in=model_in)


def _finish_round(ctx: RunContext, index: int, *, model_in: str, model_out: str, counts: dict[str, int]) -> None:
    with ctx.sessions() as session, session.begin():
        rnd = _round(session, ctx, index)
        check_errors = store.count_attempts_with_status(session, rnd.id, CHECK_ERRORS)
        store.update_round(session, rnd, status="done", model_in=model_in, model_out=model_out,
                           counts={**counts, "check_errors": check_errors})
    log_round(ctx.tracker, ctx.sessions, ctx.run_name, index)
