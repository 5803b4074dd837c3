"""`star eval`: bad input is a clear error (exit 2); a real re-evaluation stores its own split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import db.store as store
from db.engine import open_store, session_factory
from db.models import Evaluation
from star.cli import cli, register_commands
from star.config import validate_config


def make_run(url: str, raw: dict, model: str | None) -> None:
    """A run whose round 0 is done with `model` as its checkpoint and a recorded greedy accuracy."""
    config = validate_config(raw)
    sessions = session_factory(open_store(url))
    with sessions() as session, session.begin():
        run = store.get_or_create_run(session, "old", config=config.model_dump(mode="json"), base_model=model or "x")
        rnd = store.get_or_create_round(session, run, 0)
        store.update_round(session, rnd, status="done", model_out=model)
        store.record_evaluation(session, rnd, split="eval", metric="accuracy", value=0.123)
        store.get_or_create_round(session, run, 1)  # started, never trained


def star(*args: str) -> object:
    register_commands()
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(("args", "message"), [
    (["nosuch"], "no run named 'nosuch'"),
    (["old", "--round", "7"], "has no round 7"),
    (["old", "--round", "1"], "round 1 of run 'old' has no checkpoint yet"),
    (["old", "--model", "/nonexistent/model"], "model /nonexistent/model does not exist"),
    (["old", "--name", "bad name!"], "evaluation name 'bad name!'"),
    (["old", "--split", "test"], "Invalid value for '--split'"),
])
def test_bad_run_round_or_model_is_a_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    make_run(url, {"rounds": 1}, model=str(tmp_path))  # tmp_path has no config.json
    result = star("eval", *args, "--db", url, "--quiet")
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_removed_checkpoint_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    make_run(url, {"rounds": 1}, model=str(tmp_path / "gone"))
    result = star("eval", "old", "--db", url, "--quiet")
    assert result.exit_code == 2 and "its checkpoint was removed; pass --model PATH" in result.output


@pytest.mark.slow
def test_star_eval_stores_new_metrics_beside_the_rounds_own(tmp_path: Path, tiny_model: Path, ray_session,
                                                            tiny_round_config) -> None:
    url = f"sqlite:///{tmp_path}/star.db"
    raw = tiny_round_config(tmp_path, tiny_model, eval_per_digits=4)
    raw["task"]["max_digits"] = 1
    make_run(url, raw, model=str(tiny_model))
    result = star("eval", "old", "--db", url, "--json", "--set", "evaluation.samples=4", "--set", "evaluation.k=4")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert (printed["run"], printed["round"], printed["split"]) == ("old", 0, "eval@reeval")
    assert printed["problems"] == 4 and printed["model"] == str(tiny_model)

    with session_factory(open_store(url))() as session:
        rows = {(e.split, e.metric): e.value for e in session.scalars(select(Evaluation))}
    assert rows[("eval", "accuracy")] == 0.123  # the round's own number is untouched
    again = {metric: value for (split, metric), value in rows.items() if split == "eval@reeval"}
    assert {"accuracy", "maj@4", "pass@4"} <= set(again)
    # the seed-trained tiny model solves most one-digit sums; with n == k, pass@k bounds maj@k
    assert again["pass@4"] > 0.5 and again["accuracy"] > 0.5
    assert again["pass@4"] >= again["maj@4"] > 0.0
    assert printed["metrics"] == again  # --json prints what was stored

    # stdout only: Ray workers of the evaluation above may still be logging to the driver's stderr
    shown = json.loads(star("rounds", "old", "--json", "--db", url).stdout)
    assert shown[0]["eval_accuracy"] == 0.123 and shown[0]["eval_maj_at_k"] is None
    assert shown[0]["evaluations"]["eval@reeval"]["maj@4"] == again["maj@4"]
