"""Each firing re-reads the data: new training rows join the pool, the held-out set stays fixed,
and every round records which training data (hash, rows) it saw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from db.store import get_or_create_round, get_or_create_run, record_dataset_snapshot, update_round
from star.cli import cli, register_commands
from star.config.tasks import ArithmeticTaskConfig, UserDatasetTaskConfig
from star.tasks import build_task
from star.tasks.snapshot import dataset_snapshot

register_commands()


def _rows(first: int, last: int) -> list[dict[str, Any]]:
    return [{"question": f"What is {n} plus {n}?", "answer": str(2 * n),
             "rationale": f"{n} + {n} = {2 * n}. The answer is {2 * n}."} for n in range(first, last)]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_added_training_rows_join_the_pool_and_the_held_out_set_stays(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.jsonl", _rows(1, 80))
    held = _write(tmp_path / "eval.jsonl", _rows(500, 520))
    config = UserDatasetTaskConfig(name="jsonl", train_path=str(train), eval_path=str(held),
                                   rationale_field="rationale", shots=2)
    monday = build_task(config)
    _write(train, _rows(1, 80) + _rows(80, 110))  # the day's new problems appended
    tuesday = build_task(config)
    before = {p.uid for p in monday.train_problems()}
    after = {p.uid for p in tuesday.train_problems()}
    assert before < after and len(after - before) == 30
    assert [(p.uid, p.question, p.gold) for p in tuesday.eval_problems()] == \
           [(p.uid, p.question, p.gold) for p in monday.eval_problems()]
    old, new = dataset_snapshot(monday.train_problems()), dataset_snapshot(tuesday.train_problems())
    assert old[1] == len(before) and new[1] == len(after) and old[0] != new[0]


def test_snapshot_ignores_order_and_arithmetic_is_stable() -> None:
    task = build_task(ArithmeticTaskConfig(max_digits=2, train_per_digits=20, eval_per_digits=5))
    problems = task.train_problems()
    assert dataset_snapshot(problems) == dataset_snapshot(problems[::-1])
    again = build_task(ArithmeticTaskConfig(max_digits=2, train_per_digits=20, eval_per_digits=5))
    assert dataset_snapshot(again.train_problems()) == dataset_snapshot(problems)


def test_a_fractional_held_out_split_is_refused_for_a_schedule(store_url: str, factory: Any,
                                                               tmp_path: Path) -> None:
    train = _write(tmp_path / "train.jsonl", _rows(1, 40))
    path = tmp_path / "nightly.yaml"
    path.write_text(yaml.safe_dump({"task": {"name": "jsonl", "train_path": str(train),
                                             "held_out_fraction": 0.2, "rationale_field": "rationale"}}))
    result = CliRunner().invoke(cli, ["schedule", "add", "nightly", str(path), "--cron", "0 2 * * *",
                                      "--db", store_url])
    assert result.exit_code == 2 and "task.eval_path" in result.stderr


def test_rounds_record_and_show_the_dataset_they_saw(store_url: str, factory: Any) -> None:
    with factory.begin() as session:
        run = get_or_create_run(session, "nightly", config={}, base_model="tiny")
        record_dataset_snapshot(session, run, through_round=1, dataset_hash="a" * 64, rows=79)
        for index in (0, 1):
            update_round(session, get_or_create_round(session, run, index), status="done")
        # the next night: more rows; rounds 0-1 keep what they saw, round 2 gets the new pool
        record_dataset_snapshot(session, run, through_round=2, dataset_hash="b" * 64, rows=109)
    runner = CliRunner()
    shown = json.loads(runner.invoke(cli, ["rounds", "nightly", "--json", "--db", store_url]).stdout)
    assert [(r["round"], r["dataset_rows"], r["dataset_hash"][:1]) for r in shown] == \
           [(0, 79, "a"), (1, 79, "a"), (2, 109, "b")]
    table = runner.invoke(cli, ["rounds", "nightly", "--db", store_url], env={"COLUMNS": "200"}).stdout
    assert "109 rows bbbbbbbbbb" in table and "79 rows aaaaaaaaaa" in table
