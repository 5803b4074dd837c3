"""Evaluate: the held-out split, greedy and sampled, scored one way for rounds and for `star eval`.

A round stores its held-out answers as attempts (kinds `eval` and `eval_sample`,
so a resumed round keeps what it had) and its metrics on the round; `star eval`
(star/run/reeval.py) keeps the answers in memory. Both go through `run_phase`,
re-check timed-out checks once, and score with `heldout_scores`.
"""

from __future__ import annotations

from collections.abc import Callable

from star.checker.verdict import CHECK_ERRORS
from star.config import StarConfig
from star.evaluation.heldout import (
    GREEDY,
    SAMPLED,
    HeldOutAnswer,
    heldout_metrics,
    heldout_requests,
    samples_this_round,
)
from star.evaluation.metric_names import ACCURACY
from star.evaluation.strategies import Scorer
from star.loop.acceptance import CheckItem, ScoredItem
from star.loop.context import Handles, RunContext, recovery_of
from star.loop.phase import run_phase
from star.loop.recheck import call_checker, rescore
from star.loop.stored_phase import run_stored_phase
from star.progress import Progress
from star.tasks.base import Problem, Task


def evaluate_round(ctx: RunContext, index: int, model: str) -> float:
    """Greedy accuracy, maj@k and pass@k (and verifier strategies) on the held-out split,
    overall and per group; stored per round (the sampled ones on the rounds `evaluation.sampled_every`
    picks). Returns the greedy accuracy."""
    requests = heldout_requests(ctx.task, ctx.held_out, ctx.config, index,
                                sampled=samples_this_round(ctx.config, index))
    run_stored_phase(ctx, index, model, requests, phase="evaluate", problems=ctx.held_out)
    greedy, sampled = (ctx.store.heldout_answers(index, kind) for kind in (GREEDY, SAMPLED))
    metrics = heldout_scores(ctx.config, ctx.task, ctx.held_out, greedy, sampled, ctx.workers.checker,
                             scorer_factory=ctx.scorer_factory)
    ctx.store.record_metrics(index, metrics)
    return metrics[ACCURACY]


def heldout_work_counts(task: Task, problems: dict[int, Problem], greedy: list[HeldOutAnswer]) -> dict[str, int]:
    """How many greedy held-out answers write out any step (Task.has_steps, right or wrong), and how many
    right ones do the work by the task's rule (Task.work_refusal): a model that learnt bare answers from
    leaked hints shows here first, whatever its accuracy."""
    right = [a for a in greedy if a.correct]
    return {"heldout_greedy": len(greedy),
            "heldout_greedy_steps": sum(task.has_steps(a.completion, problems[a.problem_id]) for a in greedy),
            "heldout_right": len(right),
            "heldout_right_work": sum(task.work_refusal(a.completion, problems[a.problem_id]) is None
                                      for a in right)}


def evaluate_unstored(config: StarConfig, task: Task, problems: dict[int, Problem], workers: Handles, *,
                      model: str, round_index: int, progress: Progress,
                      scorer_factory: Callable[[str], Scorer]) -> dict[str, float]:
    """The same evaluation with the answers kept in memory (`star eval`): nothing is stored."""
    requests = heldout_requests(task, problems, config, round_index)
    with progress.bar(f"evaluating {model}", total=len(requests)) as advance:
        scored = run_phase(requests, problems, generators=workers.generators, checker=workers.checker,
                           store_batch=lambda batch: None, batch_size=config.sampling.batch_problems,
                           model=model, phase="star eval", recovery=recovery_of(config),
                           on_progress=advance, log=progress.log)
    scored = _rechecked(scored, workers.checker, config)
    answers = {kind: [_answer(s) for s in scored if s.completion.kind == kind] for kind in (GREEDY, SAMPLED)}
    return heldout_scores(config, task, problems, answers[GREEDY], answers[SAMPLED], workers.checker,
                          scorer_factory=scorer_factory)


def heldout_scores(config: StarConfig, task: Task, problems: dict[int, Problem], greedy: list[HeldOutAnswer],
                   sampled: list[HeldOutAnswer], checker, *,
                   scorer_factory: Callable[[str], Scorer]) -> dict[str, float]:
    """The metrics of judged held-out answers: answer classes by the checker actor's equivalence,
    and a verifier's scores when evaluation.verifier is set."""
    cfg = config.evaluation
    return heldout_metrics(task, problems, greedy, sampled, k=cfg.k,
                           same_answers=checker_same_answers(checker, config),
                           scorer=scorer_factory(cfg.verifier) if cfg.verifier and sampled else None)


def checker_same_answers(checker, config: StarConfig) -> Callable[[list[tuple[str, str]]], list[bool]]:
    """The checker actor's answer equivalence (majority voting's answer classes)."""
    def same(pairs: list[tuple[str, str]]) -> list[bool]:
        return call_checker(checker, "same_answers", (pairs,), tries=config.recovery.batch_tries,
                            restart_timeout=config.recovery.restart_timeout,
                            what=f"comparing {len(pairs)} pairs of sampled answers",
                            fix="run the evaluation again (`star run` resumes the round)")
    return same


def _rechecked(scored: list[ScoredItem], checker, config: StarConfig) -> list[ScoredItem]:
    """A timed-out or crashed check is checked once more, as in a round."""
    errors = [i for i, item in enumerate(scored) if item.status in CHECK_ERRORS]
    if not errors:
        return scored
    again = rescore(checker, [CheckItem(scored[i].completion, scored[i].problem) for i in errors],
                    config.checker.recheck_seconds, config.recovery.batch_tries, config.recovery.restart_timeout)
    fixed = list(scored)
    for i, item in zip(errors, again):
        fixed[i] = item
    return fixed


def _answer(item: ScoredItem) -> HeldOutAnswer:
    c = item.completion
    return HeldOutAnswer(c.problem_id, c.sample_index, c.prompt, c.text, item.extracted, item.correct)
