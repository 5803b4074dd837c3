"""Multiple choice on a small CommonsenseQA-style sample written in conftest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from star.checker import check
from star.config.tasks import MultipleChoiceTaskConfig
from star.errors import DataError
from star.tasks import build_task
from star.tasks.multiple_choice import MultipleChoiceTask

WriteJsonl = Callable[[str, list[Any]], Path]


def _task(train: Path, held: Path, **fields: object) -> MultipleChoiceTask:
    task = build_task(MultipleChoiceTaskConfig(train_path=str(train), eval_path=str(held), **fields))
    assert isinstance(task, MultipleChoiceTask)
    return task


def test_exact_prompt_and_correct_mark(mc_files: tuple[Path, Path]) -> None:
    task = _task(*mc_files, shots=0)
    problem = next(p for p in task.train_problems() if p.uid == "mc-1")
    assert problem.gold == "B"
    assert problem.question == "Where would you keep milk cold?"
    assert task.prompt(problem) == (
        "Q: Where would you keep milk cold?\n"
        "Answer Choices:\n"
        "(A) oven\n(B) refrigerator\n(C) shelf\n(D) garden\n(E) car\n"
        "A:"
    )
    assert task.hinted_prompt(problem) == task.prompt(problem).replace(
        "(B) refrigerator\n", "(B) refrigerator (CORRECT)\n"
    )
    assert task.remove_hint(task.hinted_prompt(problem), problem) == task.prompt(problem)
    assert [p.uid for p in task.eval_problems()] == ["mc-9", "mc-10"]


def test_builtin_shots_marked_in_the_hinted_prompt_only(mc_files: tuple[Path, Path]) -> None:
    task = _task(*mc_files)
    assert len(task.shots) == 7
    for problem in task.train_problems() + task.eval_problems():
        prompt, hinted = task.prompt(problem), task.hinted_prompt(problem)
        assert "(CORRECT)" not in prompt
        assert hinted.count("(CORRECT)") == 8  # seven examples and the problem itself
        assert task.remove_hint(hinted, problem) == prompt
    assert task.stop == ("\n\nQ:",)


def test_checker_reads_the_builtin_rationales(mc_files: tuple[Path, Path]) -> None:
    for shot in _task(*mc_files).shots:
        assert shot.rationale is not None and shot.rationale.endswith(f"So the answer is ({shot.problem.gold}).")
        assert check(shot.rationale, shot.problem.gold).correct, shot.rationale
        wrong = next(c["label"] for c in shot.problem.metadata["choices"] if c["label"] != shot.problem.gold)
        assert not check(shot.rationale, wrong).correct


def test_original_nested_and_plain_list_shapes(write_jsonl: WriteJsonl, mc_rows: list[dict[str, Any]]) -> None:
    nested = [
        {
            "id": row["id"],
            "answerKey": row["answerKey"].lower(),  # a key in another case is accepted
            "question": {
                "stem": row["question"],
                "choices": [{"label": l, "text": t} for l, t in zip(row["choices"]["label"], row["choices"]["text"])],
            },
        }
        for row in mc_rows
    ]
    plain = [{"question": r["question"], "options": r["choices"]["text"], "label": r["answerKey"]} for r in mc_rows]
    a = _task(write_jsonl("nested.jsonl", nested[:8]), write_jsonl("nested_eval.jsonl", nested[8:]), shots=0)
    b = _task(
        write_jsonl("plain.jsonl", plain[:8]),
        write_jsonl("plain_eval.jsonl", plain[8:]),
        shots=0,
        choices_field="options",
        answer_field="label",
    )
    assert [a.prompt(p) for p in a.train_problems()] == [b.prompt(p) for p in b.train_problems()]
    assert [p.gold for p in a.train_problems()] == [r["answerKey"] for r in mc_rows[:8]]


def test_unknown_answer_key_names_file_line_and_field(
    write_jsonl: WriteJsonl, mc_files: tuple[Path, Path], mc_rows: list[dict[str, Any]]
) -> None:
    rows = mc_rows[:3]
    rows[1]["answerKey"] = "F"
    train = write_jsonl("bad_mc.jsonl", rows)
    expected = r"bad_mc\.jsonl, line 2: field 'answerKey': 'F' is not one of the choice labels A, B, C, D, E"
    with pytest.raises(DataError, match=expected):
        _task(train, mc_files[1], shots=0)


def test_choices_need_two_distinct_labels(
    write_jsonl: WriteJsonl, mc_files: tuple[Path, Path], mc_rows: list[dict[str, Any]]
) -> None:
    rows = [dict(mc_rows[0], choices={"label": ["A", "A"], "text": ["x", "y"]}, answerKey="A")]
    with pytest.raises(DataError, match=r"line 1: field 'choices': repeated choice labels"):
        _task(write_jsonl("dup_labels.jsonl", rows), mc_files[1], shots=0)
