"""Steering the trainer to a node type, keeping a training group on one node, and the memory check:
what `star run` asks Ray for, what its preflight refuses, and what it warns about.

Node lists are as `ray.nodes()` returns them; ScalingConfig is Ray Train's own class.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ray.train import ScalingConfig

from star.config import GeneratorsConfig, StarConfig, TrainerConfig, validate_config
from star.config.memory import ModelShape, engine_memory, memory_warnings, read_model_shape, trainer_memory
from star.errors import ConfigError
from star.run.preflight import ClusterError, check_gpu_requests, memory_warnings_for
from star.run.workers import trainer_options
from star.training.group import group_plan

SHAPES = Path(__file__).resolve().parents[1] / "data" / "model_shapes"


def _node(gpus: float, cpus: float = 16.0, **resources: float) -> dict:
    return {"Alive": True, "Resources": {"CPU": cpus, "GPU": gpus, **resources}}


def _shape(name: str = "Qwen2.5-Math-1.5B") -> ModelShape:
    return ModelShape.from_hf_config(json.loads((SHAPES / f"{name}.json").read_text()))


def test_trainer_resources_reach_the_actor_and_every_group_worker() -> None:
    assert trainer_options(TrainerConfig(gpus=1, cpus=8, resources={"gpu_worker": 1})) == {
        "num_cpus": 8, "num_gpus": 1, "resources": {"gpu_worker": 1.0}}
    plan = group_plan(TrainerConfig(gpus=4, cpus=4, strategy="fsdp", resources={"gpu_worker_8x": 1}, same_node=True))
    assert plan.resources == {"gpu_worker_8x": 1.0} and plan.placement == "STRICT_PACK"
    assert group_plan(TrainerConfig(gpus=2)).placement == "PACK"
    # what train_in_group hands Ray Train (star/training/group.py): Ray Train accepts both
    scaling = ScalingConfig(num_workers=plan.workers, use_gpu=True, placement_strategy=plan.placement,
                            resources_per_worker={"CPU": plan.cpus_per_worker, "GPU": 1.0, **plan.resources})
    assert scaling.placement_strategy == "STRICT_PACK"


def test_a_same_node_group_is_refused_where_it_would_split_across_nodes() -> None:
    trainer = TrainerConfig(gpus=4, cpus=4, strategy="fsdp", same_node=True)
    one_gpu_nodes = [_node(1.0, 8.0) for _ in range(8)]  # eight one-GPU nodes hold 4 workers only spread out
    with pytest.raises(ClusterError, match=r"trainer.same_node is true: all 4 training workers must share one "
                                           r"node \(GPU 4, CPU 16\), but no alive Ray node holds that"):
        check_gpu_requests(GeneratorsConfig(), trainer, one_gpu_nodes)
    check_gpu_requests(GeneratorsConfig(), trainer.model_copy(update={"same_node": False}), one_gpu_nodes)
    check_gpu_requests(GeneratorsConfig(), trainer, one_gpu_nodes + [_node(8.0, 192.0)])
    # the group's custom resources count too: a node of another type cannot stand in
    steered = trainer.model_copy(update={"resources": {"gpu_worker_8x": 1.0}})
    with pytest.raises(ClusterError, match="gpu_worker_8x 4"):
        check_gpu_requests(GeneratorsConfig(), steered, one_gpu_nodes + [_node(8.0, 192.0)])
    check_gpu_requests(GeneratorsConfig(), steered, [_node(8.0, 192.0, gpu_worker_8x=8.0)])


def test_trainer_resources_must_be_on_a_node_with_its_gpus() -> None:
    trainer = TrainerConfig(gpus=1, cpus=8, resources={"gpu_worker": 1})
    with pytest.raises(ClusterError, match=r"trainer.gpus is 1 and trainer.resources is \{'gpu_worker': 1.0\}, "
                                           r"but no alive Ray node has both .* min_workers >= 1"):
        check_gpu_requests(GeneratorsConfig(), trainer, [_node(1.0), _node(8.0, gpu_worker_8x=8.0)])
    check_gpu_requests(GeneratorsConfig(), trainer, [_node(1.0, gpu_worker=1.0)])
    # each worker of a spreading group needs its share of GPUs with the resources on one node
    group = TrainerConfig(gpus=2, resources={"gpu_worker": 1})
    check_gpu_requests(GeneratorsConfig(), group, [_node(1.0, gpu_worker=1.0), _node(1.0, gpu_worker=1.0)])


def test_colocate_steers_with_generators_resources_only() -> None:
    colocated = {"colocate": True, "generators": {"gpus_per_generator": 1}, "trainer": {"gpus": 1}}
    validate_config({**colocated, "generators": {"gpus_per_generator": 1, "resources": {"gpu_worker": 1}}})
    with pytest.raises(ConfigError, match="trainer.resources cannot steer it; move them to generators.resources"):
        validate_config({**colocated, "trainer": {"gpus": 1, "resources": {"gpu_worker": 1}}})


def test_the_estimate_follows_the_batch_plan_and_the_sharding() -> None:
    shape = _shape()
    assert shape.parameters == 1_543_656_960 and _shape("Qwen2.5-Math-7B").parameters == 7_615_487_488
    one, two = (trainer_memory(shape, micro=m, tokens=4096).total_gb for m in (1, 2))
    assert one < two  # activations and logits grow with the micro-batch; weights and Adam do not
    seven = _shape("Qwen2.5-Math-7B")
    sharded = trainer_memory(seven, micro=2, tokens=4096, workers=4, strategy="fsdp").total_gb
    assert sharded < trainer_memory(seven, micro=2, tokens=4096).total_gb / 2
    ddp = trainer_memory(shape, micro=2, tokens=4096, workers=2).total_gb
    assert ddp - two == pytest.approx(shape.parameters * 4 / 1e9)  # DDP's gradient buckets
    no_checkpointing = trainer_memory(shape, micro=2, tokens=4096, checkpointing=False).total_gb
    assert no_checkpointing > two + 10
    lora = trainer_memory(seven, micro=2, tokens=4096, lora_rank=64)
    assert lora.total_gb < trainer_memory(seven, micro=2, tokens=4096).total_gb
    engine = engine_memory(shape, gpu_gb=48, utilization=0.85, max_model_len=4096)
    assert engine.kv_cache_gb == pytest.approx(0.85 * 48 - shape.parameters * 2 / 1e9 - 3.0)
    assert engine.tokens == int(engine.kv_cache_gb * 1e9 / (2 * 28 * 2 * 128 * 2))
    with pytest.raises(ValueError, match="hidden_size"):
        ModelShape.from_hf_config({"num_hidden_layers": 2})


def _gsm8k(**trainer: object) -> StarConfig:
    return validate_config({"generators": {"gpus_per_generator": 1, "max_model_len": 4096, "gpu_memory_gb": 48},
                            "training": {"batch_size": 64, "micro_batch_size": 4},
                            "trainer": {"gpus": 1, "gpu_memory_gb": 48, **trainer}})


def test_a_plan_that_does_not_fit_is_warned_about_naming_the_fix(tmp_path: Path) -> None:
    (warning,) = memory_warnings(_gsm8k(), _shape())
    assert warning.startswith("the trainer needs about 58 GB per GPU at micro_batch_size 4 and 4,096 tokens, "
                              "more than trainer.gpu_memory_gb (48); lower training.micro_batch_size")
    assert memory_warnings(_gsm8k(gpu_memory_gb=80), _shape()) == []
    tiny_engine = validate_config({"generators": {"gpus_per_generator": 1, "gpu_memory_gb": 4,
                                                  "max_model_len": 4096}})
    (engine,) = memory_warnings(tiny_engine, _shape("Qwen2.5-Math-7B"))
    assert "less than one sequence of generators.max_model_len 4,096" in engine
    # the preflight reads the shape from the model's folder; unknown shapes are said, not guessed
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text((SHAPES / "Qwen2.5-Math-1.5B.json").read_text())
    assert read_model_shape(str(model)) == _shape()
    assert memory_warnings_for(_gsm8k(), str(model)) == [warning]
    (note,) = memory_warnings_for(_gsm8k(), str(tmp_path / "absent"))
    assert note.startswith("GPU memory not estimated: no config.json of")
    assert memory_warnings_for(validate_config({}), str(model)) == []  # no gpu_memory_gb: nothing to check
