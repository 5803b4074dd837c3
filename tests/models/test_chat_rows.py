"""Chat-template tasks: the trainer gets the chat messages and renders them as the engine does."""

from __future__ import annotations

from pathlib import Path

from star.config.tasks import ArithmeticTaskConfig, GSM8KTaskConfig
from star.loop.selection import Triplet, as_sft_rows
from star.models.char_tokenizer import build_char_tokenizer
from star.tasks import build_task
from star.training.prompts import render_prompts

GSM8K = Path(__file__).resolve().parents[2] / "tests" / "data" / "gsm8k"


def test_rows_of_a_chat_task_carry_the_messages_the_engine_was_sent(chat_template: str):
    task = build_task(GSM8KTaskConfig(train_path=str(GSM8K / "train.jsonl"), eval_path=str(GSM8K / "test.jsonl"),
                                      train_size=5, eval_size=2, shots=1, use_chat_template=True))
    problem = task.train_problems()[0]
    stored = task.remove_hint(task.hinted_prompt(problem), problem)
    [row] = as_sft_rows([Triplet(1, stored, "It is 5.\nThe answer is 5.", True)], task)
    assert row["prompt"] == task.to_messages(task.prompt(problem))
    assert "hint" not in str(row["prompt"]).lower()

    tokenizer = build_char_tokenizer()
    tokenizer.chat_template = chat_template
    [rendered] = render_prompts([row], tokenizer)
    assert rendered["prompt"] == tokenizer.apply_chat_template(row["prompt"], tokenize=False,
                                                               add_generation_prompt=True)
    assert rendered["prompt"].startswith("<user>Q: ") and rendered["prompt"].endswith("<assistant>")
    assert rendered["completion"] == "It is 5.\nThe answer is 5."


def test_rows_of_a_plain_task_stay_text():
    task = build_task(ArithmeticTaskConfig(train_per_digits=2, eval_per_digits=1, shots=2))
    prompt = task.prompt(task.train_problems()[0])
    rows = as_sft_rows([Triplet(1, prompt, "Answer: 3", False)], task)
    assert rows == [{"prompt": prompt, "completion": "Answer: 3"}]
    assert render_prompts(rows, build_char_tokenizer()) == rows
