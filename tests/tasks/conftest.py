"""Fixtures for the task tests: the real data files in tests/data and small
files written per test."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The repository's parent holds shared/ both on developer machines and in CI.
DATA = Path(__file__).resolve().parents[1] / "data"

WriteJsonl = Callable[[str, list[Any]], Path]

# CommonsenseQA-style questions in the hub's flat shape (written for these tests).
MC_ROWS: list[dict[str, Any]] = [
    {
        "id": f"mc-{i}",
        "question": question,
        "choices": {"label": list("ABCDE")[: len(choices)], "text": choices},
        "answerKey": key,
    }
    for i, (question, choices, key) in enumerate(
        [
            ("Where would you keep milk cold?", ["oven", "refrigerator", "shelf", "garden", "car"], "B"),
            ("What do you use to cut paper?", ["spoon", "glue", "scissors", "pillow", "cup"], "C"),
            ("Where do fish live?", ["desert", "sky", "tree", "water", "attic"], "D"),
            ("What do bees make?", ["honey", "milk", "silk", "wool", "glass"], "A"),
            ("What does a clock show?", ["weather", "news", "music", "prices", "time"], "E"),
            ("Where do people sleep at night?", ["bed", "bus", "river", "roof", "stove"], "A"),
            ("What do you wear on your feet?", ["hat", "gloves", "shoes", "scarf", "belt"], "C"),
            ("What helps you see in the dark?", ["salt", "flashlight", "sand", "soap", "paper"], "B"),
            ("What falls from clouds?", ["rocks", "coins", "rain", "leaves", "books"], "C"),
            ("Where are books lent?", ["library", "bakery", "beach", "garage", "farm"], "A"),
        ],
        start=1,
    )
]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert (DATA / "gsm8k" / "train.jsonl").is_file(), f"the real data is missing under {DATA}"
    return DATA


@pytest.fixture
def write_jsonl(tmp_path: Path) -> WriteJsonl:
    """Write rows (dicts, or raw strings for broken lines) as a .jsonl file in tmp_path."""

    def write(name: str, rows: list[Any]) -> Path:
        path = tmp_path / name
        lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return path

    return write


@pytest.fixture
def mc_rows() -> list[dict[str, Any]]:
    """Ten CommonsenseQA-style rows (fresh copies, so a test may edit them)."""
    return json.loads(json.dumps(MC_ROWS))


@pytest.fixture
def mc_files(write_jsonl: WriteJsonl) -> tuple[Path, Path]:
    """A multiple-choice train file (8 rows) and held-out file (2 rows)."""
    return write_jsonl("mc_train.jsonl", MC_ROWS[:8]), write_jsonl("mc_eval.jsonl", MC_ROWS[8:])
