"""Any user dataset: local jsonl / csv / parquet files and `hf` datasets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import pytest

from star.checker import check
from star.config.tasks import GSM8KTaskConfig, UserDatasetTaskConfig
from star.errors import DataError
from star.tasks import build_task

WriteJsonl = Callable[[str, list[Any]], Path]

ROWS = [
    {"q": f"What is {n} plus {n}?", "a": 2 * n, "why": f"{n} + {n} = {2 * n}. The answer is {2 * n}.", "lvl": n % 2}
    for n in range(1, 13)
]


def test_jsonl_reads_gsm8k_like_gsm8k_does(shared_data: Path) -> None:
    path = str(shared_data / "gsm8k" / "test.jsonl")
    user = build_task(
        UserDatasetTaskConfig(name="jsonl", train_path=path, held_out_fraction=0.1, answer_extract="after_hashes")
    )
    gsm8k = build_task(GSM8KTaskConfig(train_path=path, held_out_fraction=0.1, shots=0))
    assert [(p.uid, p.gold) for p in user.eval_problems()] == [(p.uid, p.gold) for p in gsm8k.eval_problems()]
    assert user.dataset == "gsm8k/test"
    problem = user.train_problems()[0]
    assert user.prompt(problem) == f"Q: {problem.question}\nA:"
    assert user.remove_hint(user.hinted_prompt(problem), problem) == user.prompt(problem)


def test_named_columns_rationale_shots_and_groups(write_jsonl: WriteJsonl) -> None:
    task = build_task(
        UserDatasetTaskConfig(
            name="jsonl",
            train_path=str(write_jsonl("sums.jsonl", ROWS)),
            held_out_fraction=0.25,
            question_field="q",
            answer_field="a",
            rationale_field="why",
            group_field="lvl",
            shots=2,
            dataset_name="sums",
        )
    )
    assert task.dataset == "sums"
    assert len(task.train_problems()) == 7 and len(task.eval_problems()) == 3  # 12 - 2 shots, 25% held out
    problem = task.eval_problems()[0]
    assert problem.gold == str(2 * int(problem.question.split()[2]))
    assert task.eval_group(problem) in {"0", "1"}
    prompt = task.prompt(problem)
    assert prompt.count("The answer is") == 2 and prompt.endswith(f"Q: {problem.question}\nA:")


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_csv_and_parquet_through_datasets(tmp_path: Path, kind: str) -> None:
    table = datasets.Dataset.from_list(ROWS)
    path = tmp_path / f"sums.{kind}"
    table.to_csv(str(path), index=False) if kind == "csv" else table.to_parquet(str(path))
    task = build_task(
        UserDatasetTaskConfig(
            name="jsonl", train_path=str(path), held_out_fraction=0.5, question_field="q", answer_field="a"
        )
    )
    assert len(task.train_problems()) + len(task.eval_problems()) == 12
    assert {p.gold for p in task.train_problems() + task.eval_problems()} == {str(2 * n) for n in range(1, 13)}


def test_csv_errors_name_the_file_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("q,a\nWhat is 1 plus 1?,2\nWhat is 2 plus 2?,\n")
    config = UserDatasetTaskConfig(name="jsonl", train_path=str(path), held_out_fraction=0.5, question_field="q", answer_field="a")
    with pytest.raises(DataError, match=r"broken\.csv, line 3: field 'a': missing"):
        build_task(config)


def test_hf_loads_a_dataset_directory_with_splits(write_jsonl: WriteJsonl, tmp_path: Path) -> None:
    write_jsonl("train.jsonl", [{"question": f"{n}+1?", "answer": str(n + 1)} for n in range(8)])
    write_jsonl("test.jsonl", [{"question": f"{n}+2?", "answer": str(n + 2)} for n in range(3)])
    task = build_task(UserDatasetTaskConfig(name="hf", hub_name=str(tmp_path), eval_split="test"))
    assert len(task.train_problems()) == 8 and len(task.eval_problems()) == 3
    assert task.eval_problems()[0].gold == "2"


def test_hf_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # the machines that run these tests have no network; offline mode makes it fail fast
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    config = UserDatasetTaskConfig(name="hf", hub_name="openai/gsm8k", hub_config="main", eval_split="test")
    with pytest.raises(DataError, match=r"could not load split 'train' of hub dataset 'openai/gsm8k'.*task\.train_path"):
        build_task(config)


def test_text_answers_are_read_as_words(write_jsonl: WriteJsonl) -> None:
    cities = ["Rome", "Paris", "Lima", "Oslo"]
    rows = [{"question": f"Capital number {n}?", "answer": city} for n, city in enumerate(cities)]
    task = build_task(
        UserDatasetTaskConfig(name="jsonl", train_path=str(write_jsonl("caps.jsonl", rows)), held_out_fraction=0.5, answer_type="text")
    )
    problems = task.train_problems() + task.eval_problems()
    assert sorted(p.gold for p in problems) == sorted(cities)
    assert check("Its capital is Rome. The answer is Rome.", "Rome").correct


def test_number_answers_must_be_numbers(write_jsonl: WriteJsonl) -> None:
    rows = [
        {"question": "1+1?", "answer": "2"},
        {"question": "3/4 of 1?", "answer": "3/4"},
        {"question": "12 as a word?", "answer": "twelve"},
    ]
    config = UserDatasetTaskConfig(name="jsonl", train_path=str(write_jsonl("n.jsonl", rows)), held_out_fraction=0.5)
    with pytest.raises(DataError, match=r"n\.jsonl, line 3: field 'answer': answer_type is number but 'twelve' is not a plain number"):
        build_task(config)
    assert build_task(config, skip_invalid=True).skipped_invalid == 1


def test_repeated_ids_with_different_content_are_invalid(write_jsonl: WriteJsonl) -> None:
    rows = [{"id": "x", "question": "1+1?", "answer": 2}, {"id": "x", "question": "2+2?", "answer": 4}]
    config = UserDatasetTaskConfig(
        name="jsonl", train_path=str(write_jsonl("ids.jsonl", rows)), held_out_fraction=0.5, id_field="id"
    )
    with pytest.raises(DataError, match=r"ids\.jsonl, line 2: field 'id': id 'x' is already used by .*line 1"):
        build_task(config)
