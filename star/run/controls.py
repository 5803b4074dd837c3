"""The training data of the control arms of bench/ablation.py (`training.data`), built once per run.

STaR's gain over a round is the model trained on its own rationales against the
model before. Two controls train with the same steps and learning-rate schedule
on data that holds no STaR rationale, so what they gain is not STaR's:
- `seed_set`: the tiny model's own seed examples (star/models/tiny.py), from
  the base model every round: the round's schedule settling the seed model;
- `gold_answers`: every training problem's gold answer without a rationale
  (Task.answer_only), the paper's direct-answer baseline.
"""

from __future__ import annotations

from star.config import StarConfig
from star.loop.selection import Triplet
from star.models.tiny import seed_examples, tiny_recipe
from star.tasks.base import Problem, Task


def control_examples(config: StarConfig, task: Task, train: dict[int, Problem]) -> list[Triplet] | None:
    """What every round trains on under `config.training.data`; None for `rationales` (STaR itself)."""
    data = config.training.data
    if data == "seed_set":
        rows = seed_examples(tiny_recipe(config.seed))
        return [Triplet(-1, row["prompt"], row["completion"], False) for row in rows]
    if data == "gold_answers":
        return [Triplet(pid, task.prompt(problem), task.answer_only(problem), False)
                for pid, problem in sorted(train.items())]
    return None
