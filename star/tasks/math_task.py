"""MATH (Hendrycks et al. 2021) and MATH-500: competition problems in LaTeX.

A row has `problem`, and `answer` or a `solution` whose last `\\boxed{}` is the
answer; `level`, `subject` (or MATH's `type`) and `unique_id` are kept when
present. MATH-500 ships no worked solutions, so the few-shot examples default
to the four MATH train problems of Minerva's prompt (Lewkowycz et al. 2022),
packaged as prompts/math_shots.json; their rationales end in `\\boxed{}`, the
answer form the checker reads. The module is not named `math.py` so that it
never shadows the standard library.
"""

from __future__ import annotations

from typing import Any

from star.tasks.base import Problem, content_hash
from star.tasks.dataset import DatasetTask
from star.tasks.loading import Row
from star.tasks.parsing import (
    Example,
    InvalidRow,
    last_boxed,
    optional_text,
    require_parsable_gold,
    text_field,
)


def _level(value: Any) -> int | None:
    """MATH writes "Level 3"; MATH-500 on the hub writes 3; "Level ?" exists too."""
    text = str(value).removeprefix("Level").strip()
    return int(text) if text.isdigit() else None


class MathTask(DatasetTask):
    """MATH / MATH-500 with LaTeX gold answers checked symbolically."""

    default_dataset = "math"
    prompt_file = "math_prompt.txt"
    hint_file = "math_hint.txt"
    builtin_shots = "math_shots.json"
    id_field = "unique_id"

    def parse_row(self, row: Row) -> Example:
        question = text_field(row, "problem")
        solution = optional_text(row, "solution")
        gold = optional_text(row, "answer") or (last_boxed(solution) if solution else None)
        if gold is None:
            raise InvalidRow("answer", "missing, and no \\boxed{...} answer in a 'solution' field")
        require_parsable_gold(gold, "answer")
        key = content_hash(question)
        uid = optional_text(row, "unique_id") or key
        metadata: dict[str, Any] = {}
        level = _level(row.data.get("level", ""))
        if level is not None:
            metadata["level"] = level
        subject = optional_text(row, "subject") or optional_text(row, "type")
        if subject is not None:
            metadata["subject"] = subject
        problem = Problem(uid=uid, question=question, gold=gold, metadata=metadata)
        return Example(problem, key, row.where(), solution)

    def eval_group(self, problem: Problem) -> str:
        level = problem.metadata.get("level")
        return "all" if level is None else f"Level {level}"
