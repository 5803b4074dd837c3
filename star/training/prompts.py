"""Training prompts as the engine sent them, and how many examples the trainer's max_length cuts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def count_truncated(rows: list[dict[str, str]], tokenizer, max_length: int) -> int:
    """Rendered rows whose prompt + completion (+ EOS) exceed `max_length` tokens; TRL keeps the
    first `max_length` tokens (truncation_mode keep_start), so these lose the end of the completion."""
    if not rows:
        return 0
    texts = [row["prompt"] + row["completion"] for row in rows]
    lengths = [len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]
    return sum(length > max_length for length in lengths)


def render_prompts(examples: list[dict[str, Any]], tokenizer) -> list[dict[str, str]]:
    """Rows whose prompt is chat messages get the text the generation engine sent.

    The engine renders messages with the chat template (tokenize=False, generation
    prompt on) and tokenizes that text; rendering the same way here and passing the
    text to TRL as a plain prompt makes the training prompt's tokens equal to the
    tokens the rationale was generated from (no second BOS, no other template path).
    """
    return [{"prompt": render_prompt(row["prompt"], tokenizer), "completion": row["completion"]} for row in examples]


def render_prompt(prompt: str | Sequence[dict[str, str]], tokenizer) -> str:
    """A text prompt as it is; chat messages as the text the generation engine sent for them."""
    if isinstance(prompt, str):
        return prompt
    return tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
