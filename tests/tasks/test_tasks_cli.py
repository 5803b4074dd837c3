"""`star tasks preview` through the real command line group."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from star.cli import cli, register_commands


def _run(*args: str) -> tuple[int, str, str]:
    register_commands()
    result = CliRunner().invoke(cli, ["tasks", "preview", *args])
    return result.exit_code, result.stdout, result.stderr


def _config(tmp_path: Path, task: str) -> str:
    path = tmp_path / "run.yaml"
    path.write_text(f"model: {{name: tiny}}\ntask: {task}\n")
    return str(path)


def test_preview_prints_direct_and_hinted_prompts(tmp_path: Path, shared_data: Path) -> None:
    data = shared_data / "gsm8k"
    paths = f"train_path: {data / 'train.jsonl'}, eval_path: {data / 'test.jsonl'}"
    config = _config(tmp_path, f"{{name: gsm8k, {paths}, shots: 2, train_size: 5}}")
    code, out, err = _run(config, "--n", "2")
    assert code == 0, err
    assert "training pool: 5 problems; held-out: 1319 problems" in out
    assert out.count("--- prompt ") == 2 and out.count("--- hinted prompt") == 2
    assert out.count("(Hint: the answer is ") == 2 * 3  # two shots and the problem, per hinted prompt
    assert "gold answer: " in out and "(parsed by the checker)" in out


def test_preview_shows_chat_messages(tmp_path: Path, mc_files: tuple[Path, Path]) -> None:
    train, held = mc_files
    config = _config(tmp_path, f"{{name: multiple_choice, train_path: {train}, eval_path: {held}, shots: 1, use_chat_template: true}}")
    code, out, _ = _run(config, "--n", "1")
    assert code == 0
    messages = json.loads(out.split("--- as chat messages " + "-" * 51 + "\n", 1)[1])
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]


def test_bad_row_exits_2_and_skip_invalid_reports(tmp_path: Path) -> None:
    rows = [{"question": f"{n} + 1?", "answer": f"#### {n + 1}"} for n in range(6)] + [{"question": "no answer"}]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = _config(tmp_path, f"{{name: gsm8k, train_path: {train}, held_out_fraction: 0.5, shots: 0}}")
    code, out, err = _run(config)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {train}, line 7: field 'answer': missing")
    code, out, err = _run(config, "--skip-invalid")
    assert code == 0, err
    assert "dropped: 1 invalid rows, 0 duplicates" in out


def test_bad_config_exits_2(tmp_path: Path) -> None:
    code, _, err = _run(_config(tmp_path, "{name: gsm8k, shots: many}"))
    assert code == 2 and "task.shots: Input should be a valid integer" in err
