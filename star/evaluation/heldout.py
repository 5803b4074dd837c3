"""Held-out evaluation: the requests (greedy + n samples per problem) and the metrics.

Used by every round (star/loop/rounds.py, answers stored as attempts of kinds
`eval` and `eval_sample`) and by `star eval` (star/run/reeval.py, answers
kept in memory). Metrics are computed from plain `HeldOutAnswer`s either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from star.config import StarConfig
from star.engines.requests import GenRequest, chat_turns, request_seed
from star.evaluation.classes import Pair, answer_classes, pairs_to_check
from star.evaluation.metric_names import ACCURACY
from star.evaluation.strategies import Sample, Scorer, mean_by_group, sample_metrics
from star.tasks.base import Problem, Task, model_prompt

GREEDY, SAMPLED = "eval", "eval_sample"  # attempt kinds


@dataclass(frozen=True)
class HeldOutAnswer:
    """One judged answer to a held-out problem (a stored attempt or an in-memory one)."""

    problem_id: int
    sample_index: int
    prompt: str
    completion: str
    extracted: str | None
    correct: bool


def samples_this_round(config: StarConfig, round_index: int) -> bool:
    """Whether round `round_index` takes the held-out samples: round 0, every `evaluation.sampled_every`
    rounds and the run's last round (so a run's first and final models are always compared in full)."""
    every = config.evaluation.sampled_every
    return bool(config.evaluation.samples) and (round_index % every == 0 or round_index == config.rounds)


def heldout_requests(task: Task, problems: dict[int, Problem], config: StarConfig,
                     round_index: int, *, sampled: bool = True) -> list[GenRequest]:
    """One greedy request per problem and, with evaluation.samples > 0 and `sampled`, one request for n
    samples (vLLM samples the n from one prompt, sharing its prefill), seeded per problem and round."""
    cfg = config.evaluation
    stop = tuple(config.sampling.stop) + tuple(task.stop)
    greedy = [GenRequest(pid, GREEDY, task.prompt(p), 1, 0.0, 1.0, cfg.max_new_tokens, stop, 0,
                         chat_turns(task, task.prompt(p)))
              for pid, p in problems.items()]
    if not cfg.samples or not sampled:
        return greedy
    sampled = [GenRequest(pid, SAMPLED, task.prompt(p), cfg.samples, cfg.temperature, 1.0, cfg.max_new_tokens,
                          stop, request_seed(config.seed, round_index, p.uid, SAMPLED),
                          chat_turns(task, task.prompt(p)))
               for pid, p in problems.items()]
    return greedy + sampled


def accuracy_metrics(task: Task, problems: dict[int, Problem], results: list[tuple[int, bool]]) -> dict[str, float]:
    """Greedy `accuracy` overall and `accuracy/<group>` per eval group (e.g. digits=3)."""
    metrics = mean_by_group(ACCURACY, ((task.eval_group(problems[pid]), float(ok)) for pid, ok in results))
    metrics.setdefault(ACCURACY, 0.0)
    return metrics


def heldout_metrics(task: Task, problems: dict[int, Problem], greedy: Sequence[HeldOutAnswer],
                    sampled: Sequence[HeldOutAnswer], *, k: int,
                    same_answers: Callable[[list[Pair]], list[bool]],
                    scorer: Scorer | None = None) -> dict[str, float]:
    """Greedy accuracy, and from the samples maj@k and pass@k (plus the verifier strategies
    when a scorer is given), each overall and per group."""
    metrics = accuracy_metrics(task, problems, [(a.problem_id, a.correct) for a in greedy])
    if not sampled:
        return metrics
    by_problem: dict[int, list[HeldOutAnswer]] = {}
    for answer in sorted(sampled, key=lambda a: (a.problem_id, a.sample_index)):
        by_problem.setdefault(answer.problem_id, []).append(answer)
    samples = _classified(by_problem, same_answers)
    scores = _scores(by_problem, scorer, task) if scorer is not None else None
    groups = {pid: task.eval_group(problems[pid]) for pid in by_problem}
    return metrics | sample_metrics(samples, groups, k, scores)


def _classified(by_problem: dict[int, list[HeldOutAnswer]],
                same_answers: Callable[[list[Pair]], list[bool]]) -> dict[int, list[Sample]]:
    """Answer classes per problem; every pair the checker must compare goes in one call."""
    columns = {pid: ([a.extracted for a in answers], [a.correct for a in answers])
               for pid, answers in by_problem.items()}
    pairs = sorted(set().union(*(pairs_to_check(*cols) for cols in columns.values())))
    verdicts = dict(zip(pairs, same_answers(pairs))) if pairs else {}
    return {
        pid: [Sample(cls, ok) for cls, ok in
              zip(answer_classes(extracted, correct, lambda a, b: verdicts[(a, b)]), correct)]
        for pid, (extracted, correct) in columns.items()
    }


def _scores(by_problem: dict[int, list[HeldOutAnswer]], scorer: Scorer, task: Task) -> dict[int, list[float]]:
    flat = [a for answers in by_problem.values() for a in answers]
    # each prompt as the policy was sent it: chat messages when the task uses the chat template
    values = scorer.score([model_prompt(task, a.prompt) for a in flat], [a.completion for a in flat])
    if len(values) != len(flat):
        raise ValueError(f"the verifier returned {len(values)} scores for {len(flat)} completions")
    scores: dict[int, list[float]] = {}
    for answer, value in zip(flat, values):
        scores.setdefault(answer.problem_id, []).append(float(value))
    return scores


def load_verifier(path: str) -> Scorer:
    """The trained verifier at `path` (star/verifier, `star verifier train`)."""
    try:
        from star.verifier import VerifierScorer  # type: ignore[import-not-found]
    except ImportError as exc:
        from star.errors import ConfigError

        raise ConfigError(f"evaluation.verifier is set ({path}) but this star has no verifier support "
                          f"({exc}); unset evaluation.verifier") from None
    return VerifierScorer(path)
