"""MATH-500 on the real file, and the MATH format with solutions and levels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from star.checker import check
from star.config.tasks import MathTaskConfig
from star.tasks import build_task
from star.tasks.math_task import MathTask

WriteJsonl = Callable[[str, list[Any]], Path]


@pytest.fixture(scope="module")
def math500(shared_data: Path) -> MathTask:
    task = build_task(MathTaskConfig(train_path=str(shared_data / "math500" / "test.jsonl"), held_out_fraction=0.2))
    assert isinstance(task, MathTask)
    return task


def test_math500_splits_by_fraction(math500: MathTask) -> None:
    train, held = math500.train_problems(), math500.eval_problems()
    assert (len(train), len(held)) == (400, 100)
    assert not {p.uid for p in train} & {p.uid for p in held}
    first = next(p for p in train + held if p.question.startswith("Convert the point $(0,3)$"))
    assert first.gold == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert math500.eval_group(first) == "all"  # MATH-500's file has no levels


def test_split_is_deterministic_under_the_seed(math500: MathTask, shared_data: Path) -> None:
    path = str(shared_data / "math500" / "test.jsonl")
    again = build_task(MathTaskConfig(train_path=path, held_out_fraction=0.2))
    other = build_task(MathTaskConfig(train_path=path, held_out_fraction=0.2, seed=7))
    assert [p.uid for p in again.eval_problems()] == [p.uid for p in math500.eval_problems()]
    assert {p.uid for p in other.eval_problems()} != {p.uid for p in math500.eval_problems()}


def test_exact_prompt_and_hint_round_trip(shared_data: Path, math500: MathTask) -> None:
    task = build_task(
        MathTaskConfig(train_path=str(shared_data / "math500" / "test.jsonl"), held_out_fraction=0.2, shots=0)
    )
    problem = next(p for p in task.train_problems() + task.eval_problems() if p.gold == "p - q")
    assert task.prompt(problem) == f"Problem:\n{problem.question}\n\nSolution:"
    assert task.hinted_prompt(problem) == f"Problem:\n{problem.question} (Hint: the answer is $p - q$.)\n\nSolution:"
    for p in math500.train_problems() + math500.eval_problems():
        assert math500.remove_hint(math500.hinted_prompt(p), p) == math500.prompt(p)
    assert math500.stop == ("\n\nProblem:",)


def test_builtin_minerva_shots_are_read_by_the_checker(math500: MathTask) -> None:
    assert len(math500.shots) == 4
    prompt = math500.prompt(math500.train_problems()[0])
    assert prompt.count("Problem:\n") == 5 and prompt.count("\\boxed{") == 4
    for shot in math500.shots:
        assert check(shot.rationale or "", shot.problem.gold).correct, shot.problem.gold


def test_math_format_gold_from_boxed_and_level_groups(write_jsonl: WriteJsonl) -> None:
    rows = [
        {
            "problem": f"What is ${n} \\cdot 2$?",
            "solution": f"It is $\\boxed{{{2 * n}}}$.",
            "level": f"Level {n % 5 + 1}",
            "type": "Algebra",
        }
        for n in range(1, 11)
    ]
    rows.append(
        {
            "problem": "Simplify $\\frac{4}{6}$.",
            "solution": "$\\boxed{\\frac{2}{3}}$",
            "level": 2,  # MATH-500 on the hub writes an int
            "subject": "Prealgebra",
            "unique_id": "test/prealgebra/1.json",
        }
    )
    task = build_task(
        MathTaskConfig(train_path=str(write_jsonl("math.jsonl", rows)), held_out_fraction=0.3, shots=0)
    )
    problems = {p.question: p for p in task.train_problems() + task.eval_problems()}
    assert problems["What is $3 \\cdot 2$?"].gold == "6"
    assert problems["What is $3 \\cdot 2$?"].metadata == {"level": 4, "subject": "Algebra"}
    fraction = problems["Simplify $\\frac{4}{6}$."]
    assert (fraction.gold, fraction.uid) == ("\\frac{2}{3}", "test/prealgebra/1.json")
    assert task.eval_group(fraction) == "Level 2"


def test_shots_can_come_from_a_solutions_file(write_jsonl: WriteJsonl, shared_data: Path) -> None:
    shots = write_jsonl("shots.jsonl", [{"problem": "What is $1+1$?", "solution": "$1+1=\\boxed{2}$."}])
    task = build_task(
        MathTaskConfig(
            train_path=str(shared_data / "math500" / "test.jsonl"),
            held_out_fraction=0.5,
            shots=1,
            shots_path=str(shots),
        )
    )
    problem = task.train_problems()[0]
    assert task.prompt(problem).startswith("Problem:\nWhat is $1+1$?\n\nSolution: $1+1=\\boxed{2}$.\n\nProblem:\n")
