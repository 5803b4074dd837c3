"""The control arms' training data (star/run/controls.py, `training.data`)."""

from __future__ import annotations

import pytest

from star.config import validate_config
from star.errors import ConfigError
from star.models.tiny import seed_examples, tiny_recipe
from star.run.controls import control_examples
from star.tasks import build_task


def _config(data: str, **top: object):
    return validate_config({"task": {"name": "arithmetic", "min_digits": 1, "max_digits": 2, "train_per_digits": 5,
                                     "eval_per_digits": 2}, "training": {"data": data}, **top})


def test_star_itself_has_no_control_data() -> None:
    config = _config("rationales")
    assert control_examples(config, build_task(config.task), {}) is None


def test_seed_set_is_the_tiny_models_own_seed_examples() -> None:
    config = _config("seed_set", seed=2)
    examples = control_examples(config, build_task(config.task), {})
    expected = seed_examples(tiny_recipe(2))
    assert [(t.prompt, t.completion) for t in examples] == [(r["prompt"], r["completion"]) for r in expected]
    with pytest.raises(ConfigError, match="seed_set trains on the tiny model's seed examples"):
        _config("seed_set", model="/models/other")


def test_gold_answers_give_every_training_problem_its_answer_and_no_rationale() -> None:
    config = _config("gold_answers")
    task = build_task(config.task)
    train = dict(enumerate(task.train_problems()))
    examples = control_examples(config, task, train)
    assert [t.problem_id for t in examples] == sorted(train)
    first = train[examples[0].problem_id]
    assert examples[0].prompt == task.prompt(first) and examples[0].completion == f"Answer: {first.gold}\n"
    from star.checker import check

    assert check(examples[0].completion, first.gold).correct  # the checker reads it as the answer
