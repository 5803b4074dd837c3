"""Task config validation, YAML loading and prompt template overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from star.config.tasks import (
    GSM8KTaskConfig,
    MultipleChoiceTaskConfig,
    TaskConfig,
    UserDatasetTaskConfig,
    load_task_config,
)
from star.errors import ConfigError
from star.tasks import build_task


def _write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_dataset_field_has_help_text() -> None:
    for cls in (GSM8KTaskConfig, MultipleChoiceTaskConfig, UserDatasetTaskConfig):
        for name, field in cls.model_fields.items():
            assert name == "name" or field.description, f"{cls.__name__}.{name}"


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("{name: gsm8k}", "set exactly one of task.train_path"),
        ("{name: gsm8k, train_path: a.jsonl}", "set exactly one of task.eval_path and task.held_out_fraction"),
        ("{name: gsm8k, train_path: a.jsonl, held_out_fraction: 1.5}", "task.held_out_fraction: Input should be less than 1"),
        ("{name: gsm8k, train_path: a.jsonl, eval_path: b.jsonl, shots: -1}", "task.shots: Input should be greater"),
        ("{name: gsm8k, train_path: a.jsonl, eval_path: b.jsonl, train_size: 0}", "task.train_size: Input should be greater"),
        ("{name: gsm8k, train_path: a.jsonl, eval_path: b.jsonl, colour: red}", "task.colour: Extra inputs are not permitted"),
        ("{name: hf, hub_name: x/y, eval_path: b.jsonl}", "with task.hub_name use task.eval_split"),
        ("{name: jsonl, hub_name: x/y, eval_split: test}", "set task.train_path"),
        ("{name: jsonl, train_path: a.jsonl, held_out_fraction: 0.1, shots: 2}", "set task.rationale_field"),
        ("{name: jsonl, train_path: a.jsonl, held_out_fraction: 0.1, answer_type: roman}", "task.answer_type: Input should be"),
        ("{name: squad}", "does not match any of the expected tags"),
    ],
)
def test_bad_values_fail_naming_the_field(tmp_path: Path, task: str, message: str) -> None:
    path = _write(tmp_path, f"model: {{name: tiny}}\ntask: {task}\n")
    with pytest.raises(ConfigError) as caught:
        load_task_config(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_yaml_task_section_is_typed(tmp_path: Path) -> None:
    path = _write(tmp_path, "sampling: {k: 4}\ntask:\n  name: math\n  train_path: m.jsonl\n  held_out_fraction: 0.2\n  shots: 2\n")
    config = load_task_config(path)
    assert config == TypeAdapter(TaskConfig).validate_python(
        {"name": "math", "train_path": "m.jsonl", "held_out_fraction": 0.2, "shots": 2}
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("task: [unclosed\n", "not valid YAML"),
        ("model: {name: tiny}\n", "no 'task:' section"),
        ("task: gsm8k\n", "'task:' must be a mapping"),
    ],
)
def test_unusable_yaml(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_task_config(_write(tmp_path, text))


def test_missing_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"config file not found: {tmp_path / 'nope.yaml'}"):
        load_task_config("nope.yaml")


def test_prompt_and_hint_templates_can_be_overridden(tmp_path: Path, shared_data: Path) -> None:
    prompt = _write(tmp_path, "Question: {{question}}\n{{hint}}Let's think step by step.\n", "prompt.txt")
    hint = _write(tmp_path, "[the answer is {{ answer }}] ", "hint.txt")
    task = build_task(
        GSM8KTaskConfig(
            train_path=str(shared_data / "gsm8k" / "test.jsonl"),
            held_out_fraction=0.5,
            shots=1,
            prompt_template=str(prompt),
            hint_template=str(hint),
        )
    )
    problem = task.train_problems()[0]
    assert task.prompt(problem).endswith(f"\n\nQuestion: {problem.question}\nLet's think step by step.")
    assert task.hinted_prompt(problem).endswith(f"{problem.question}\n[the answer is {problem.gold}] Let's think step by step.")
    assert task.stop == ("\n\nQuestion:",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Q: {{question}}\nA:", r"must contain \{\{hint\}\} exactly once \(found 0\)"),
        ("Q: {{question}}{{hint}} {{hint}}\nA:", r"must contain \{\{hint\}\} exactly once \(found 2\)"),
        ("Q: {{question}}{{hint}} {{choices}}\nA:", r"unknown placeholder\(s\) \{\{choices\}\}"),
    ],
)
def test_bad_template_names_the_field_and_file(tmp_path: Path, shared_data: Path, text: str, message: str) -> None:
    prompt = _write(tmp_path, text, "prompt.txt")
    config = GSM8KTaskConfig(
        train_path=str(shared_data / "gsm8k" / "test.jsonl"), held_out_fraction=0.5, prompt_template=str(prompt)
    )
    with pytest.raises(ConfigError, match=rf"task\.prompt_template: file .*prompt\.txt (uses )?{message}"):
        build_task(config)


def test_missing_template_file(shared_data: Path) -> None:
    config = GSM8KTaskConfig(
        train_path=str(shared_data / "gsm8k" / "test.jsonl"), held_out_fraction=0.5, hint_template="no/such/hint.txt"
    )
    with pytest.raises(ConfigError, match=r"task\.hint_template: template file not found: .*no/such/hint\.txt"):
        build_task(config)


def test_values_are_substituted_once() -> None:
    from star.tasks.templates import Template

    template = Template("Q: {{question}}{{hint}}", "test")
    assert template.render(question="What is {{hint}}?", hint="!") == "Q: What is {{hint}}?!"


def test_empty_dataset_name_is_rejected() -> None:
    with pytest.raises(ValidationError, match="dataset_name"):
        GSM8KTaskConfig(train_path="a.jsonl", eval_path="b.jsonl", dataset_name="")
