"""Bad data fails before generation with file, row and field; --skip-invalid drops it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from star.config.tasks import GSM8KTaskConfig, MathTaskConfig
from star.errors import DataError
from star.tasks import Task, build_task

WriteJsonl = Callable[[str, list[Any]], Path]

GOOD = [
    {"question": f"Tom has {n} apples and buys {n} more. How many now?", "answer": f"{n}+{n}={2 * n}\n#### {2 * n}"}
    for n in range(1, 9)
]


def _gsm8k(train: Path, *, skip_invalid: bool = False, shots: int = 1) -> Task:
    config = GSM8KTaskConfig(train_path=str(train), held_out_fraction=0.25, shots=shots)
    return build_task(config, skip_invalid=skip_invalid)


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ({"answer": "#### 3"}, "field 'question': missing"),
        ({"question": "   ", "answer": "#### 3"}, "field 'question': empty"),
        ({"question": "How many?"}, "field 'answer': missing"),
        ({"question": "How many?", "answer": "It is three."}, "field 'answer': no '####"),
        ({"question": "How many?", "answer": "#### \\frac{1}{"}, "field 'answer': the checker cannot parse the gold answer"),
        ({"question": ["not", "text"], "answer": "#### 3"}, "field 'question': expected text or a number, got list"),
        ('{"question": "broken json",', "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
    ],
)
def test_each_bad_row_names_file_line_and_field(write_jsonl: WriteJsonl, bad_row: Any, message: str) -> None:
    rows = GOOD[:3] + [bad_row] + GOOD[3:]
    train = write_jsonl("train.jsonl", rows)
    with pytest.raises(DataError) as caught:
        _gsm8k(train)
    text = str(caught.value)
    assert text.startswith(f"{train}, line 4: ")
    assert message in text and "--skip-invalid" in text
    task = _gsm8k(train, skip_invalid=True)
    assert task.skipped_invalid == 1
    assert len(task.train_problems()) + len(task.eval_problems()) + len(task.shots) == len(GOOD)


def test_math_row_without_answer_or_boxed(write_jsonl: WriteJsonl) -> None:
    rows = [{"problem": "What is $1+1$?", "answer": "2"}, {"problem": "What is $2+2$?", "solution": "It is four."}]
    train = write_jsonl("math.jsonl", rows)
    with pytest.raises(DataError, match=r"math\.jsonl, line 2: field 'answer': missing, and no \\boxed"):
        build_task(MathTaskConfig(train_path=str(train), held_out_fraction=0.5, shots=0))


def test_empty_file(write_jsonl: WriteJsonl) -> None:
    train = write_jsonl("empty.jsonl", ["", "   "])
    with pytest.raises(DataError, match=r"task\.train_path: .*empty\.jsonl: the file has no rows"):
        _gsm8k(train)


def test_every_row_skipped_leaves_an_empty_pool(write_jsonl: WriteJsonl) -> None:
    train = write_jsonl("all_bad.jsonl", [{"question": "x"}] * 3)
    with pytest.raises(DataError, match=r"the training pool is empty after removing invalid rows \(3\)"):
        build_task(GSM8KTaskConfig(train_path=str(train), held_out_fraction=0.5, shots=0), skip_invalid=True)


def test_missing_file_is_resolved_against_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as caught:
        _gsm8k(Path("data/nope.jsonl"))
    text = str(caught.value)
    assert f"task.train_path: file not found: {tmp_path / 'data' / 'nope.jsonl'}" in text
    assert f"current directory {tmp_path}" in text


def test_relative_paths_work_from_the_cwd(write_jsonl: WriteJsonl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_jsonl("train.jsonl", GOOD)
    monkeypatch.chdir(tmp_path)
    config = GSM8KTaskConfig(train_path="train.jsonl", held_out_fraction=0.25, shots=0)
    assert config.train_path == str(tmp_path / "train.jsonl")
    monkeypatch.chdir(tmp_path.parent)  # a Ray worker building the task may run elsewhere
    assert len(build_task(config).train_problems()) == 6


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text(json.dumps(GOOD[0]) + "\n")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'; use one of \.jsonl, \.json, \.parquet, \.csv"):
        _gsm8k(path)


def test_too_few_worked_examples_for_the_shots(write_jsonl: WriteJsonl) -> None:
    with pytest.raises(DataError, match=r"task\.shots is 9 but the training data has only 8 worked examples"):
        _gsm8k(write_jsonl("small.jsonl", GOOD), shots=9)


def test_duplicates_are_dropped_and_counted(write_jsonl: WriteJsonl) -> None:
    task = _gsm8k(write_jsonl("dups.jsonl", GOOD + GOOD[:3]), shots=0)
    assert task.duplicates_dropped == 3
    assert len(task.train_problems()) + len(task.eval_problems()) == len(GOOD)


def test_held_out_file_overlap_leaves_the_pool(write_jsonl: WriteJsonl) -> None:
    task = build_task(
        GSM8KTaskConfig(
            train_path=str(write_jsonl("train.jsonl", GOOD)), eval_path=str(write_jsonl("test.jsonl", GOOD[:2])), shots=0
        )
    )
    assert len(task.eval_problems()) == 2
    assert len(task.train_problems()) == 6
    assert not {p.uid for p in task.train_problems()} & {p.uid for p in task.eval_problems()}
