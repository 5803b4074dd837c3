"""Generation requests and completions: what the loop asks of an engine and what comes back.

Plain frozen dataclasses that cross to the generator actors; a per-request seed
makes a round's samples reproducible, also when a batch is sent again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from star.tasks.base import Task, model_prompt


@dataclass(frozen=True)
class GenRequest:
    """K samples for one prompt. `seed` makes the samples reproducible."""

    problem_id: int
    kind: str  # direct | rationalized | eval
    prompt: str
    n: int
    temperature: float
    top_p: float
    max_tokens: int
    stop: tuple[str, ...]
    seed: int
    #: (role, content) turns for models with a chat template; empty = send `prompt` as text
    messages: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Completion:
    problem_id: int
    kind: str
    sample_index: int
    prompt: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    finished: bool  # False when cut off by max_tokens


def request_seed(run_seed: int, round_index: int, problem_uid: str, kind: str) -> int:
    """A stable per-request seed, so re-running a round reproduces its samples."""
    blob = f"{run_seed}|{round_index}|{problem_uid}|{kind}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "little")


def chat_turns(task: Task, prompt: str) -> tuple[tuple[str, str], ...]:
    """The prompt as chat turns when the task asks for the model's chat template."""
    messages = model_prompt(task, prompt)
    if isinstance(messages, str):
        return ()
    return tuple((m["role"], m["content"]) for m in messages)
