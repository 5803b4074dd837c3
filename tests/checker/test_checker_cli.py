"""`star check`, through the same click group the `star` command uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from star.cli import StarGroup
from star.cli.check import COMMANDS


@pytest.fixture()
def star() -> StarGroup:
    group = StarGroup(name="star")
    for command in COMMANDS:
        group.add_command(command)
    return group


def test_single_pair(star: StarGroup) -> None:
    result = CliRunner().invoke(star, ["check", "--gold", "72", "--prediction", "She sold 72. #### 72"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"correct": True, "status": "correct", "extracted": "72"}


def test_jsonl_keeps_order_and_passes_fields_through(star: StarGroup, tmp_path: Path) -> None:
    rows = [
        {"id": 1, "gold": "72", "prediction": "#### 72"},
        {"id": 2, "gold": "\\frac{1}{2}", "prediction": "The answer is 0.6."},
        {"id": 3, "gold": 5, "prediction": None, "meta": {"k": [1, 2]}},
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    result = CliRunner().invoke(star, ["check", "--jsonl", str(path), "--workers", "2", "--timeout", "3"])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["id"] for o in out] == [1, 2, 3]
    assert [o["status"] for o in out] == ["correct", "incorrect", "no_answer"]
    assert out[1]["extracted"] == "0.6" and out[2]["meta"] == {"k": [1, 2]} and out[2]["gold"] == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"gold": "1", "prediction": "1"}\nnot json\n', "line 2: not valid JSON"),
        ('{"gold": "1"}\n', "line 1: missing field 'prediction'"),
        ('[1, 2]\n', "line 1: expected a JSON object"),
        ('{"gold": 0.5, "prediction": "1"}\n', "line 1: 'gold' must be a string"),
        ('{"gold": "1", "prediction": 3}\n', "line 1: 'prediction' must be a string or null"),
    ],
)
def test_malformed_line_exits_2_naming_it(star: StarGroup, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    result = CliRunner().invoke(star, ["check", "--jsonl", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_usage_errors(star: StarGroup, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(star, ["check", "--gold", "1"]).exit_code == 2
    both = runner.invoke(star, ["check", "--gold", "1", "--prediction", "1", "--jsonl", "x.jsonl"])
    assert both.exit_code == 2
    missing = runner.invoke(star, ["check", "--jsonl", str(tmp_path / "absent.jsonl")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    assert runner.invoke(star, ["check", "--gold", "1", "--prediction", "1", "--timeout", "0"]).exit_code == 2
