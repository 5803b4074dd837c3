"""Which accepted rationales become training examples, and how many steps to train."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from star.tasks.base import Task, model_prompt


@dataclass(frozen=True)
class Triplet:
    """An accepted (question prompt, rationale, answer) example, hint already removed."""

    problem_id: int
    prompt: str
    completion: str
    rationalized: bool
    #: key of the rationale's reasoning path (star.checker.work.path_key); None if stored before it was kept
    path_key: str | None = None

    def dedup_key(self, dedup: str) -> str:
        """What two rationales of a problem must share to count once under `training.dedup`."""
        if dedup == "path" and self.path_key is not None:
            return "path:" + self.path_key
        return "text:" + self.completion.strip()


def select_examples(triplets: list[Triplet], *, dedup: str, max_per_problem: int | None) -> list[Triplet]:
    """Keep one rationale per problem and reasoning path (`dedup="path"`) or text (`"text"`), or all
    (`"none"`), and cap per problem (optional).

    Direct rationales are kept before rationalized ones when capping, since they
    came from the model without help. Order is otherwise stable.
    """
    ordered = sorted(triplets, key=lambda t: t.rationalized)  # stable: direct first
    kept: list[Triplet] = []
    seen: set[tuple[int, str]] = set()
    per_problem: dict[int, int] = defaultdict(int)
    for triplet in ordered:
        key = (triplet.problem_id, triplet.dedup_key(dedup))
        if dedup != "none" and key in seen:
            continue
        if max_per_problem is not None and per_problem[triplet.problem_id] >= max_per_problem:
            continue
        seen.add(key)
        per_problem[triplet.problem_id] += 1
        kept.append(triplet)
    return kept


def as_sft_rows(triplets: list[Triplet], task: Task | None = None) -> list[dict[str, Any]]:
    """TRL prompt/completion rows (loss on the completion only).

    For a task that sends its prompts through the model's chat template, the
    prompt is the same chat messages the engine got; the trainer renders them
    with the same template (star.training.prompts.render_prompts).
    """
    return [{"prompt": model_prompt(task, t.prompt), "completion": t.completion} for t in triplets]


def steps_for_round(round_index: int, base_steps: int = 40, growth: float = 1.2) -> int:
    """The paper's step budget: `base_steps` growing by `growth` per round (round 1 = base)."""
    if round_index < 1:
        raise ValueError("training rounds start at 1")
    return int(math.ceil(base_steps * growth ** (round_index - 1) - 1e-9))
