"""Typed config for tasks: one class per task, chosen by its `name` field.

Each class documents every field (the description is the help text shown by
`star run --help-config` and in docs). Add a task by adding its class to
`TaskConfig` below.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class _TaskBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(0, description="Seed for problem generation, splits and few-shot draws.")


class ArithmeticTaskConfig(_TaskBase):
    """The STaR paper's n-digit addition task with a carry scratchpad."""

    name: Literal["arithmetic"] = "arithmetic"
    min_digits: int = Field(1, ge=1, le=12, description="Fewest digits of an operand.")
    max_digits: int = Field(5, ge=1, le=12, description="Most digits of an operand.")
    train_per_digits: int = Field(
        400, ge=1, description="Training problems per digit count (the pool each round attempts)."
    )
    eval_per_digits: int = Field(
        100, ge=1, description="Held-out problems per digit count (balanced; never in the training pool)."
    )


TaskConfig = Annotated[
    Union[ArithmeticTaskConfig],
    Field(discriminator="name"),
]
