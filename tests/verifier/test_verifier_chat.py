"""A run whose task sends prompts through the chat template: the verifier trains and scores on the
prompts as the policy was sent them, not on the stored text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from db.models import Run
from star.config import load_config
from star.config.tasks import GSM8KTaskConfig
from star.errors import StarError
from star.tasks import build_task
from star.tasks.base import Task
from star.verifier import VerifierScorer
from star.verifier.pairs import Pair
from star.verifier.service import TrainingPlan, chat_task
from star.verifier.training import FORMAT, MANIFEST, REFERENCE_DIR, DpoSettings, VerifierSpec, train_verifier

GSM8K = Path(__file__).resolve().parents[2] / "tests" / "data" / "gsm8k"
COMPLETIONS = ["She pays 3*4=12.\nThe answer is 12.", "She pays 3+4=7.\nThe answer is 7."]


def _chat_task_config(**overrides: Any) -> dict[str, Any]:
    return {"name": "gsm8k", "train_path": str(GSM8K / "train.jsonl"), "eval_path": str(GSM8K / "test.jsonl"),
            "train_size": 5, "eval_size": 2, "shots": 1, "use_chat_template": True, **overrides}


def _task() -> Task:
    return build_task(GSM8KTaskConfig(**_chat_task_config()))


def _with_template(tiny_model: Path, folder: Path, chat_template: str) -> Path:
    """A copy of the tiny model whose tokenizer has a chat template."""
    from transformers import AutoTokenizer

    shutil.copytree(tiny_model, folder)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(str(folder))
    return folder


def _verifier_folder(model: Path, folder: Path) -> Path:
    """A verifier folder by hand: `model`, and as reference a seeded perturbation of it, so the
    implicit reward is not zero everywhere."""
    import torch
    from transformers import AutoModelForCausalLM

    shutil.copytree(model, folder)
    reference = AutoModelForCausalLM.from_pretrained(str(model))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for weight in reference.parameters():
            weight.add_(0.05 * torch.randn(weight.shape, generator=generator))
    reference.save_pretrained(str(folder / REFERENCE_DIR))
    manifest = {"format": FORMAT, "method": "dpo", "beta": 0.1, "max_length": 1024, "reference": REFERENCE_DIR}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


def test_the_scorer_reads_chat_messages_as_the_engine_rendered_them(
        tmp_path: Path, tiny_model: Path, chat_template: str, one_thread: None) -> None:
    model = _with_template(tiny_model, tmp_path / "policy", chat_template)
    scorer = VerifierScorer(str(_verifier_folder(model, tmp_path / "verifier")))
    task = _task()
    text = task.prompt(task.train_problems()[0])
    messages = task.to_messages(text)
    rendered = scorer.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered.endswith("<assistant>") and rendered != text

    from_messages = scorer.score([messages, messages], COMPLETIONS)
    assert from_messages == scorer.score([rendered, rendered], COMPLETIONS)
    assert from_messages != scorer.score([text, text], COMPLETIONS)  # the template's tokens are scored on


def test_a_chat_run_pairs_its_prompts_as_messages_and_trains_on_them(
        tmp_path: Path, tiny_model: Path, chat_template: str, one_thread: None) -> None:
    config = load_config(None, {"task": _chat_task_config()}).model_dump(mode="json")
    task = chat_task(Run(name="chat", config=config))
    assert task is not None and task.use_chat_template
    problems = task.train_problems()
    pairs = [Pair(i, task.prompt(p), COMPLETIONS[0], COMPLETIONS[1]) for i, p in enumerate(problems)]
    plan = TrainingPlan(run="chat", round_index=1, init="-", out=tmp_path / "out", train=pairs, held_out=[],
                        problems=len(pairs), chat_task=task)
    rows = plan.rows(pairs)
    assert [r["prompt"] for r in rows] == [task.to_messages(p.prompt) for p in pairs]
    assert rows[0]["chosen"] == COMPLETIONS[0] and rows[0]["rejected"] == COMPLETIONS[1]

    # DPO takes the message rows (rendered with the template, as SFT rows are) and saves a verifier
    # that scores them.
    model = _with_template(tiny_model, tmp_path / "policy", chat_template)
    spec = VerifierSpec(init_model=str(model), output_dir=str(tmp_path / "verifier"), pairs=rows,
                        settings=DpoSettings(steps=2, batch_size=2))
    result = train_verifier(spec, progress=False)
    assert result.steps == 2 and "loss" in result.metrics
    scores = VerifierScorer(result.output_dir).score([r["prompt"] for r in rows], [r["chosen"] for r in rows])
    assert len(scores) == len(rows) and all(0.0 < s < 1.0 for s in scores)


def test_a_text_run_keeps_text_prompts_and_a_broken_chat_task_is_named(tmp_path: Path) -> None:
    assert chat_task(Run(name="plain", config={})) is None  # no task rebuilt for text prompts
    text_config = load_config(None, {"task": _chat_task_config(use_chat_template=False)}).model_dump(mode="json")
    assert chat_task(Run(name="plain", config=text_config)) is None
    pair = Pair(0, "Q: 1+1\n", "2", "3")
    plain = TrainingPlan(run="plain", round_index=1, init="-", out=tmp_path, train=[pair], held_out=[], problems=1)
    assert plain.rows([pair]) == [pair.row()]

    moved = load_config(None, {"task": _chat_task_config()}).model_dump(mode="json")
    moved["task"]["train_path"] = str(tmp_path / "moved.jsonl")
    with pytest.raises(StarError, match="run 'gone' sent its prompts through the model's chat template, and its "
                                        "task could not be rebuilt .*moved.jsonl.*restore the task's files"):
        chat_task(Run(name="gone", config=moved))

    chat = TrainingPlan(run="chat", round_index=1, init="-", out=tmp_path, train=[pair], held_out=[], problems=1,
                        chat_task=_task())
    with pytest.raises(StarError, match="run 'chat': a stored prompt does not fit the task rebuilt"):
        chat.rows([pair])  # a prompt without the task's few-shot examples
