"""Choosing each round's sampling temperature by balancing exploration and exploitation (B-STaR).

B-STaR (Zeng et al. 2024) found that self-improvement stalls as exploration
decays round after round, and picks the sampling temperature each round from a
small probe. Here (`sampling.temperature_choice: balance`), before a round's
direct sampling, a seeded subset of the training pool (`balance_problems`) is
sampled `balance_samples` times at each of `balance_temperatures`; each
temperature scores

    balance = mean over probed problems of min(distinct right paths / balance_paths, 1) x right / sampled

(the first factor rewards diverse right rationales, the second accuracy, as
B-STaR's balance score does), and the best one samples the round (a tie goes
to the lower temperature). Probe samples are not stored; the choice and its
score are, with the round, so a resumed round samples at the temperature it
chose. Per-request seeds make the probe itself repeatable.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from star.engines.requests import GenRequest, chat_turns, request_seed
from star.loop.acceptance import ScoredItem
from star.loop.context import RunContext, recovery_of
from star.loop.phase import run_phase

PROBE_KIND = "probe"  # never stored: the kind only keeps the probe's seeds apart from the round's own


@dataclass(frozen=True)
class ProbeOutcome:
    """How one probed problem fared at one temperature."""

    right: int
    sampled: int
    paths: int  # distinct reasoning paths among the right samples


def outcomes(scored: Iterable[ScoredItem]) -> list[ProbeOutcome]:
    """Per problem: right samples, samples and distinct right paths (by `path_key`)."""
    right: dict[int, int] = defaultdict(int)
    sampled: dict[int, int] = defaultdict(int)
    paths: dict[int, set[str | None]] = defaultdict(set)
    for item in scored:
        pid = item.completion.problem_id
        sampled[pid] += 1
        if item.correct:
            right[pid] += 1
            paths[pid].add(item.path_key)
    return [ProbeOutcome(right[pid], sampled[pid], len(paths[pid])) for pid in sorted(sampled)]


def balance_score(probed: Sequence[ProbeOutcome], target_paths: int) -> float:
    """B-STaR's balance of diverse right rationales and accuracy, averaged over problems (0 when none)."""
    if not probed:
        return 0.0
    return sum(min(o.paths / target_paths, 1.0) * o.right / o.sampled for o in probed if o.sampled) / len(probed)


def choose_temperature(scores: dict[float, float]) -> float:
    """The temperature with the best score; a tie goes to the lowest."""
    return min(scores, key=lambda temperature: (-scores[temperature], temperature))


def probe_problems(problem_ids: Iterable[int], count: int, *, seed: int, round_index: int) -> list[int]:
    """A seeded subset of the training pool, the same for the same run seed and round."""
    ordered = sorted(problem_ids)
    rng = random.Random(f"{seed}|{round_index}|balance probe")
    return sorted(rng.sample(ordered, min(count, len(ordered))))


def round_temperature(ctx: RunContext, index: int, model: str) -> float:
    """The temperature round `index` samples at: the configured one, or the balance choice (probed once
    per round; a resumed round reads back what it chose)."""
    cfg = ctx.config.sampling
    if cfg.temperature_choice == "fixed":
        return cfg.temperature
    kept = ctx.store.extra_counts(index)
    if "sampling_temperature" in kept:
        return float(kept["sampling_temperature"])
    scores = {t: balance_score(probe(ctx, index, model, t), cfg.balance_paths) for t in cfg.balance_temperatures}
    chosen = choose_temperature(scores)
    ctx.store.keep_counts(index, {"sampling_temperature": float(chosen), "balance_score": float(scores[chosen])})
    shown = ", ".join(f"{t:g}: {s:.3f}" for t, s in scores.items())
    ctx.log(index, f"sampling temperature {chosen:g} by balance ({shown})")
    return chosen


def probe(ctx: RunContext, index: int, model: str, temperature: float) -> list[ProbeOutcome]:
    """Sample the round's probe problems at one temperature and judge them; nothing is stored."""
    cfg = ctx.config.sampling
    stop = tuple(cfg.stop) + tuple(ctx.task.stop)
    chosen = probe_problems(ctx.train, cfg.balance_problems, seed=ctx.config.seed, round_index=index)
    samples = cfg.balance_samples or cfg.samples_per_problem
    requests = [
        GenRequest(pid, PROBE_KIND, ctx.task.prompt(ctx.train[pid]), samples, temperature, cfg.top_p,
                   cfg.max_new_tokens, stop, request_seed(ctx.config.seed, index, ctx.train[pid].uid,
                                                          f"{PROBE_KIND}@{temperature:g}"),
                   chat_turns(ctx.task, ctx.task.prompt(ctx.train[pid])))
        for pid in chosen
    ]
    with ctx.progress.bar(f"round {index}: probe T={temperature:g}", total=len(requests)) as advance:
        scored = run_phase(requests, ctx.train, generators=ctx.workers.generators, checker=ctx.workers.checker,
                           store_batch=lambda batch: None, batch_size=cfg.batch_problems, model=model,
                           phase=f"round {index} probe", recovery=recovery_of(ctx.config), on_progress=advance,
                           log=ctx.progress.log)
    return outcomes(scored)
