"""Which accepted rationales become training examples, and how many steps to train."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from star.tasks.base import Task


@dataclass(frozen=True)
class Triplet:
    """An accepted (question prompt, rationale, answer) example, hint already removed."""

    problem_id: int
    prompt: str
    completion: str
    rationalized: bool


def select_examples(triplets: list[Triplet], *, dedup: bool, max_per_problem: int | None) -> list[Triplet]:
    """Drop identical rationales per problem (optional) and cap per problem (optional).

    Direct rationales are kept before rationalized ones when capping, since they
    came from the model without help. Order is otherwise stable.
    """
    ordered = sorted(triplets, key=lambda t: t.rationalized)  # stable: direct first
    kept: list[Triplet] = []
    seen: set[tuple[int, str]] = set()
    per_problem: dict[int, int] = defaultdict(int)
    for triplet in ordered:
        key = (triplet.problem_id, triplet.completion.strip())
        if dedup and key in seen:
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
    with the same template (star.training.render_prompts).
    """
    return [{"prompt": model_prompt(task, t.prompt), "completion": t.completion} for t in triplets]


def model_prompt(task: Task | None, prompt: str) -> str | list[dict[str, str]]:
    """A stored prompt as the model was sent it: the task's chat messages when it uses the
    model's chat template (rendered by star.training.render_prompt), else the text itself."""
    if task is not None and task.use_chat_template:
        return task.to_messages(prompt)
    return prompt
