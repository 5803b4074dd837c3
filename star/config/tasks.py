"""Typed config for tasks: one class per task, chosen by its `name` field.

Each class documents every field (the description is the help text shown by
`star config-help` and in docs). Add a task by adding its class to
`TaskConfig` below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from star.errors import ConfigError


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
    shots: int = Field(
        0, ge=0, le=32,
        description="Worked scratchpad examples before each question: the paper's few-shot prompt for a "
        "pretrained model (drawn with task.seed, never a training or held-out problem; the hint is given "
        "for the asked question only). 0 = none, as for the seed-trained tiny model.",
    )


class DatasetTaskConfig(_TaskBase):
    """Where a dataset's problems come from, how many to use, and how to prompt.

    The source is local files (`train_path`, `eval_path`) or a hub dataset
    (`hub_name`); the held-out set is a file/split of its own or a seeded
    `held_out_fraction` of the training data. Relative paths are made absolute
    against the current directory when the config is validated.
    """

    train_path: str | None = Field(
        None,
        description="Local file with the training problems (.jsonl, .json, .parquet or .csv); "
        "relative to the current directory. Set this or hub_name.",
    )
    eval_path: str | None = Field(
        None,
        description="Local file with the held-out problems. Leave empty to hold out "
        "held_out_fraction of train_path instead.",
    )
    hub_name: str | None = Field(
        None,
        description="Hugging Face hub dataset (e.g. openai/gsm8k), loaded with "
        "datasets.load_dataset; needs network or a local cache. Set this or train_path.",
    )
    hub_config: str | None = Field(
        None, description="Hub dataset configuration (e.g. main for openai/gsm8k)."
    )
    train_split: str = Field("train", min_length=1, description="Hub split with the training problems.")
    eval_split: str | None = Field(
        None,
        description="Hub split with the held-out problems (e.g. test). Leave empty to hold out "
        "held_out_fraction of train_split instead.",
    )
    held_out_fraction: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Fraction of the training data held out for evaluation (seeded, by content "
        "hash) when there is no eval_path / eval_split.",
    )
    train_size: int | None = Field(
        None, ge=1, description="Most training problems to use (a seeded sample); empty = all."
    )
    eval_size: int | None = Field(
        None, ge=1, description="Most held-out problems to use (a seeded sample); empty = all."
    )
    shots: int = Field(4, ge=0, le=64, description="Worked examples in the few-shot prompt.")
    shots_path: str | None = Field(
        None,
        description="File of worked examples (same format as the dataset, with a rationale) to "
        "draw the few-shot examples from, instead of the task's default source.",
    )
    prompt_template: str | None = Field(
        None,
        description="Text file overriding the built-in prompt template ({{question}}, "
        "{{hint}} placeholders; see docs/tasks.md).",
    )
    hint_template: str | None = Field(
        None,
        description="Text file overriding the built-in hint ({{answer}} placeholder), inserted "
        "at {{hint}} in the rationalization prompt.",
    )
    use_chat_template: bool = Field(
        False,
        description="Send prompts as chat messages (each few-shot example a user/assistant "
        "turn) rendered with the model's chat template.",
    )
    dataset_name: str | None = Field(
        None,
        min_length=1,
        description="Dataset name recorded in the store; empty = the task's default name.",
    )

    @field_validator("train_path", "eval_path", "shots_path", "prompt_template", "hint_template")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        # Resolved once, where the config is loaded: Ray workers that build the
        # task from this config may run in another directory.
        return None if value is None else str(Path(value).expanduser().absolute())

    @model_validator(mode="after")
    def _one_source(self) -> "DatasetTaskConfig":
        if (self.train_path is None) == (self.hub_name is None):
            raise ValueError(
                "set exactly one of task.train_path (a local file, e.g. "
                "data/gsm8k/train.jsonl) and task.hub_name (e.g. openai/gsm8k)"
            )
        if self.hub_name is not None and self.eval_path is not None:
            raise ValueError("task.eval_path is for local files; with task.hub_name use task.eval_split")
        held_out = self.eval_path if self.train_path is not None else self.eval_split
        field = "eval_path" if self.train_path is not None else "eval_split"
        if (held_out is None) == (self.held_out_fraction is None):
            raise ValueError(
                f"set exactly one of task.{field} and task.held_out_fraction (the held-out "
                "set is either its own file/split or a fraction of the training data)"
            )
        return self


class GSM8KTaskConfig(DatasetTaskConfig):
    """GSM8K grade-school math: gold answer after `#### `, few shots from the train split."""

    name: Literal["gsm8k"] = "gsm8k"
    shots: int = Field(
        8, ge=0, le=64, description="Worked train-split solutions in the few-shot prompt."
    )


class MathTaskConfig(DatasetTaskConfig):
    """MATH / MATH-500: LaTeX problems; gold from `answer` or the solution's last \\boxed{}."""

    name: Literal["math"] = "math"
    shots: int = Field(
        4, ge=0, le=64, description="Worked examples (built-in: Minerva's four MATH shots)."
    )


class MultipleChoiceTaskConfig(DatasetTaskConfig):
    """CommonsenseQA-style questions with labelled choices; the hint marks the gold choice."""

    name: Literal["multiple_choice"] = "multiple_choice"
    shots: int = Field(
        7, ge=0, le=64, description="Worked examples (built-in: seven CommonsenseQA shots)."
    )
    question_field: str = Field(
        "question",
        min_length=1,
        description="Column with the question text (or a CommonsenseQA {stem, choices} object).",
    )
    choices_field: str = Field(
        "choices",
        min_length=1,
        description="Column with the choices: {label: [...], text: [...]}, a list of "
        "{label, text}, or a list of strings (labelled A, B, ...).",
    )
    answer_field: str = Field(
        "answerKey", min_length=1, description="Column with the gold choice's label (e.g. B)."
    )
    id_field: str | None = Field(
        "id", description="Column with a unique problem id; rows without it use a content hash."
    )
    rationale_field: str = Field(
        "rationale", min_length=1, description="Column with a worked rationale in shots_path rows."
    )


class UserDatasetTaskConfig(DatasetTaskConfig):
    """Any dataset: `jsonl` for local files, `hf` for a hub dataset, columns named here."""

    name: Literal["jsonl", "hf"]
    shots: int = Field(
        0, ge=0, le=64, description="Worked examples drawn from rows with a rationale_field value."
    )
    question_field: str = Field("question", min_length=1, description="Column with the question.")
    answer_field: str = Field("answer", min_length=1, description="Column with the gold answer.")
    answer_type: Literal["number", "latex", "text"] = Field(
        "number",
        description="What the gold answers are: number (plain numbers like 72, -3.5, 1,080, 3/4; "
        "any other gold is a bad row), latex (math the checker compares symbolically) or text "
        "(words, compared after lowercasing and dropping punctuation).",
    )
    answer_extract: Literal["value", "after_hashes", "last_boxed"] = Field(
        "value",
        description="How to get the gold from answer_field: the whole value, the text after "
        "'#### ' (GSM8K style) or the last \\boxed{...} (MATH style).",
    )
    rationale_field: str | None = Field(
        None, description="Column with a worked rationale, used for the few-shot examples."
    )
    id_field: str | None = Field(
        None, description="Column with a unique problem id; empty = a hash of the question."
    )
    group_field: str | None = Field(
        None, description="Column whose value groups held-out accuracy (e.g. level); empty = one group."
    )

    @model_validator(mode="after")
    def _source_matches_name(self) -> "UserDatasetTaskConfig":
        if self.name == "jsonl" and self.train_path is None:
            raise ValueError("task name 'jsonl' reads local files: set task.train_path")
        if self.name == "hf" and self.hub_name is None:
            raise ValueError("task name 'hf' reads a hub dataset: set task.hub_name")
        if self.shots > 0 and self.rationale_field is None and self.shots_path is None:
            raise ValueError(
                "task.shots > 0 needs worked examples: set task.rationale_field (a column "
                "with rationales) or task.shots_path, or set task.shots: 0"
            )
        return self


TaskConfig = Annotated[
    Union[
        ArithmeticTaskConfig,
        GSM8KTaskConfig,
        MathTaskConfig,
        MultipleChoiceTaskConfig,
        UserDatasetTaskConfig,
    ],
    Field(discriminator="name"),
]


def load_task_config(path: str | Path) -> TaskConfig:
    """Read the `task:` section of a star run config YAML into a typed TaskConfig.

    Raises ConfigError with the file and the offending field; relative paths
    are resolved against the current directory.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(
            f"config file not found: {file.resolve()} "
            f"(relative paths are resolved against the current directory {Path.cwd()})"
        )
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or "task" not in document:
        raise ConfigError(f"{file}: no 'task:' section (it names the task, e.g. task: {{name: gsm8k, ...}})")
    section = document["task"]
    if not isinstance(section, dict):
        raise ConfigError(f"{file}: 'task:' must be a mapping with at least a name, got {section!r}")
    try:
        return TypeAdapter(TaskConfig).validate_python(section)
    except ValidationError as exc:
        raise ConfigError(f"{file}: invalid task config:\n{format_validation_error(exc)}") from exc


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, naming the field as a dotted path under `task.`."""
    lines = []
    for error in exc.errors():
        # the first loc item of a union error is the chosen member's tag; drop it
        loc = [str(part) for part in error["loc"]]
        if loc and loc[0] in _TASK_NAMES:
            loc = loc[1:]
        where = "task." + ".".join(loc) if loc else "task"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


_TASK_NAMES = {
    name
    for member in get_args(get_args(TaskConfig)[0])
    for name in get_args(member.model_fields["name"].annotation)
}
