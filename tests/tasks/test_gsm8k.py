"""GSM8K on the real train and test files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from star.checker import check
from star.config.tasks import GSM8KTaskConfig
from star.tasks import build_task
from star.tasks.gsm8k import GSM8KTask


@pytest.fixture(scope="module")
def gsm8k(shared_data: Path) -> GSM8KTask:
    config = GSM8KTaskConfig(
        train_path=str(shared_data / "gsm8k" / "train.jsonl"),
        eval_path=str(shared_data / "gsm8k" / "test.jsonl"),
    )
    task = build_task(config)
    assert isinstance(task, GSM8KTask)
    return task


def test_real_files_load_with_gold_after_hashes(gsm8k: GSM8KTask) -> None:
    assert len(gsm8k.shots) == 8
    # all 7473 train problems are distinct and none is in test: only the shots leave the pool
    assert len(gsm8k.train_problems()) == 7473 - 8
    assert len(gsm8k.eval_problems()) == 1319
    first_test = gsm8k.eval_problems()[0]
    assert first_test.question.startswith("Janet\u2019s ducks lay 16 eggs per day.")
    assert first_test.gold == "18"
    # "#### 1,080" style golds lose their thousands separators
    assert all("," not in p.gold for p in gsm8k.train_problems() + gsm8k.eval_problems())
    assert gsm8k.dataset == "gsm8k"
    assert gsm8k.stop == ("\n\nQ:",)


def test_shots_come_from_train_and_leave_the_pool(gsm8k: GSM8KTask) -> None:
    pool = {p.uid for p in gsm8k.train_problems()} | {p.uid for p in gsm8k.eval_problems()}
    for shot in gsm8k.shots:
        assert shot.problem.uid not in pool
        assert shot.rationale is not None
        assert "<<" not in shot.rationale and "####" not in shot.rationale
        assert "\n\n" not in shot.rationale
        assert shot.rationale.endswith(f"\nThe answer is {shot.problem.gold}.")


def test_checker_reads_every_shot_answer_line(gsm8k: GSM8KTask) -> None:
    for shot in gsm8k.shots:
        verdict = check(shot.rationale or "", shot.problem.gold)
        assert verdict.correct, (shot.rationale, verdict)


def test_hint_round_trip_is_exact(gsm8k: GSM8KTask) -> None:
    for problem in gsm8k.train_problems()[:300] + gsm8k.eval_problems()[:100]:
        hinted = gsm8k.hinted_prompt(problem)
        assert f"(Hint: the answer is {problem.gold}.)" in hinted
        assert gsm8k.remove_hint(hinted, problem) == gsm8k.prompt(problem)
        assert "Hint" not in gsm8k.prompt(problem)


def test_remove_hint_refuses_a_prompt_it_did_not_render(gsm8k: GSM8KTask) -> None:
    first, second = gsm8k.train_problems()[:2]
    with pytest.raises(ValueError, match="cannot remove its hint"):
        gsm8k.remove_hint(gsm8k.hinted_prompt(first), second)


def test_exact_prompt_text(shared_data: Path, tmp_path: Path) -> None:
    # one known worked example (the train file's first line) as the only shot
    first_line = (shared_data / "gsm8k" / "train.jsonl").read_text().splitlines()[0]
    shots_file = tmp_path / "shots.jsonl"
    shots_file.write_text(first_line + "\n")
    eval_file = tmp_path / "test.jsonl"
    eval_file.write_text(json.dumps({"question": "What is 2 + 3?", "answer": "2 + 3 = <<2+3=5>>5\n#### 5"}) + "\n")
    task = build_task(
        GSM8KTaskConfig(
            train_path=str(shared_data / "gsm8k" / "train.jsonl"),
            eval_path=str(eval_file),
            shots=1,
            shots_path=str(shots_file),
            train_size=5,
        )
    )
    problem = task.eval_problems()[0]
    shot = (
        "Q: Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
        "in May. How many clips did Natalia sell altogether in April and May?\n"
        "A: Natalia sold 48/2 = 24 clips in May.\n"
        "Natalia sold 48+24 = 72 clips altogether in April and May.\n"
        "The answer is 72.\n\n"
    )
    assert task.prompt(problem) == shot + "Q: What is 2 + 3?\nA:"
    hinted_shot = shot.replace("April and May?\n", "April and May? (Hint: the answer is 72.)\n", 1)
    assert task.hinted_prompt(problem) == hinted_shot + "Q: What is 2 + 3? (Hint: the answer is 5.)\nA:"
    # the shot file's problem is also in the train file: it must not be solved
    assert "Natalia" not in " ".join(p.question for p in task.train_problems())


def test_sizes_are_seeded_subsets(shared_data: Path) -> None:
    def build(seed: int) -> tuple[list[str], list[str]]:
        task = build_task(
            GSM8KTaskConfig(
                train_path=str(shared_data / "gsm8k" / "test.jsonl"),
                held_out_fraction=0.25,
                train_size=40,
                eval_size=10,
                shots=2,
                seed=seed,
            )
        )
        return [p.uid for p in task.train_problems()], [p.uid for p in task.eval_problems()]

    train, held = build(0)
    assert (len(train), len(held)) == (40, 10)
    assert not set(train) & set(held)
    assert build(0) == (train, held)
    other_train, other_held = build(1)
    assert set(other_train) != set(train) and set(other_held) != set(held)


def test_chat_messages_split_the_shots(shared_data: Path) -> None:
    task = build_task(
        GSM8KTaskConfig(
            train_path=str(shared_data / "gsm8k" / "test.jsonl"),
            held_out_fraction=0.5,
            shots=2,
            use_chat_template=True,
        )
    )
    assert task.use_chat_template
    problem = task.train_problems()[0]
    for prompt in (task.prompt(problem), task.hinted_prompt(problem)):
        messages = task.to_messages(prompt)
        assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
        assert messages[-1]["content"] == prompt.rsplit("\n\n", 1)[1]
        assert messages[-1]["content"].startswith(f"Q: {problem.question}")
        assert messages[1]["content"].endswith(".") and "Q:" not in messages[1]["content"]
    with pytest.raises(ValueError):
        task.to_messages("Q: something else\nA:")
