"""Where generation engines run: tensor-parallel placement groups and the GPU preflight.

The decisions (bundles, options, environment, preflight) are plain functions tested
here; placement_cluster.py checks them on a real Ray cluster with a CPU-only head and
a node of logical GPUs (Ray schedules logical GPUs on a machine without any).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray._raylet import PlacementGroupID
from ray.util.placement_group import PlacementGroup
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from star.config import GeneratorsConfig, TrainerConfig
from star.engines.placement import STRATEGY, colocated_bundles, engine_bundles, generator_options, prepare_engine_env
from star.run.preflight import ClusterError, check_gpu_requests

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("placement_cluster.py")


def test_tensor_parallel_bundles_are_one_gpu_each_on_one_node() -> None:
    assert STRATEGY == "STRICT_PACK"
    assert engine_bundles(2, {}) == [{"GPU": 1.0, "CPU": 1.0}] * 2
    assert engine_bundles(4, None) == [{"GPU": 1.0, "CPU": 1.0}] * 4
    # custom resources in bundle 0 only: the engine consumes them once and STRICT_PACK
    # puts all its bundles on the node that has them
    assert engine_bundles(4, {"gen_node": 1}) == [{"GPU": 1.0, "CPU": 1.0, "gen_node": 1.0}] + [
        {"GPU": 1.0, "CPU": 1.0}] * 3
    with pytest.raises(ValueError):
        engine_bundles(1, {})


def test_cpu_and_one_gpu_engines_keep_plain_requests() -> None:
    assert generator_options(0) == {"num_cpus": 0}
    assert generator_options(0, {"gen_node": 1}) == {"num_cpus": 0, "resources": {"gen_node": 1}}
    assert generator_options(1) == {"num_gpus": 1, "num_cpus": 1}
    assert generator_options(1, {"gen_node": 1}) == {"num_gpus": 1, "num_cpus": 1, "resources": {"gen_node": 1}}


def test_tensor_parallel_engine_goes_into_bundle_0_of_its_group() -> None:
    group = PlacementGroup(PlacementGroupID.from_random())
    options = generator_options(4, {"gen_node": 1}, group)
    strategy = options.pop("scheduling_strategy")
    assert options == {"num_cpus": 1, "num_gpus": 0, "resources": {"gen_node": 1}}
    assert isinstance(strategy, PlacementGroupSchedulingStrategy)
    assert strategy.placement_group is group
    assert strategy.placement_group_bundle_index == 0
    assert strategy.placement_group_capture_child_tasks is True
    with pytest.raises(ValueError, match="needs its placement group"):
        generator_options(2, None, None)


def test_engine_env_puts_vllm_workers_in_the_bundles_and_unhides_gpus() -> None:
    env = {"CUDA_VISIBLE_DEVICES": "", "HIP_VISIBLE_DEVICES": "", "ROCR_VISIBLE_DEVICES": "1"}
    prepare_engine_env(4, on_cpu=False, environ=env)
    assert env == {"VLLM_RAY_BUNDLE_INDICES": "0,1,2,3", "VLLM_RAY_PER_WORKER_GPUS": "1",
                   "ROCR_VISIBLE_DEVICES": "1"}  # an operator's own restriction stays
    for tp, on_cpu in [(1, False), (4, True)]:
        untouched = {"CUDA_VISIBLE_DEVICES": ""}
        prepare_engine_env(tp, on_cpu=on_cpu, environ=untouched)
        assert untouched == {"CUDA_VISIBLE_DEVICES": ""}


def _node(name: str, gpus: float, alive: bool = True, **resources: float) -> dict:
    """A node as ray.nodes() describes it."""
    return {"NodeID": name * 8, "Alive": alive, "NodeManagerHostname": name,
            "Resources": {"CPU": 8.0, f"node:10.0.0.{len(name)}": 1.0, **({"GPU": gpus} if gpus else {}), **resources}}


NODES = [_node("head", 0), _node("gpu-1", 2), _node("gpu-22", 2, gen_node=4.0), _node("dead", 8, alive=False)]


def test_preflight_refuses_tensor_parallel_larger_than_any_node() -> None:
    with pytest.raises(ClusterError) as err:
        check_gpu_requests(GeneratorsConfig(gpus_per_generator=4), TrainerConfig(), NODES)
    message = str(err.value)
    assert "generators.gpus_per_generator is 4" in message
    assert "the largest alive Ray node has 2 GPUs" in message  # the dead 8-GPU node does not count
    assert "lower generators.gpus_per_generator to 2 or less, or add a node with 4 GPUs" in message
    check_gpu_requests(GeneratorsConfig(gpus_per_generator=2), TrainerConfig(gpus=2), NODES)
    check_gpu_requests(GeneratorsConfig(gpus_per_generator=2, resources={"gen_node": 1}), TrainerConfig(), NODES)


def test_preflight_refuses_a_trainer_larger_than_any_node_and_gpus_on_a_cpu_cluster() -> None:
    with pytest.raises(ClusterError, match=r"trainer.gpus is 3: .* largest alive Ray node has 2 GPUs; lower "
                                           r"trainer.gpus to 2 or less"):
        check_gpu_requests(GeneratorsConfig(), TrainerConfig(gpus=3, workers=1), NODES)  # one process, one node
    check_gpu_requests(GeneratorsConfig(), TrainerConfig(gpus=3), NODES)  # three one-GPU workers may span nodes
    with pytest.raises(ClusterError, match=r"generators.gpus_per_generator is 1: .* has 0 GPUs; add a node with 1 "
                                           r"GPUs or set generators.gpus_per_generator to 0"):
        check_gpu_requests(GeneratorsConfig(gpus_per_generator=1), TrainerConfig(), NODES[:1])
    check_gpu_requests(GeneratorsConfig(), TrainerConfig(), NODES[:1])  # all on CPUs


def test_preflight_needs_the_gpus_and_the_custom_resources_on_one_node() -> None:
    with pytest.raises(ClusterError, match=r"generators.gpus_per_generator is 2 and generators.resources is "
                                           r"\{'other': 1.0\}, but no alive Ray node has both"):
        check_gpu_requests(GeneratorsConfig(gpus_per_generator=2, resources={"other": 1}), TrainerConfig(), NODES)


@pytest.mark.slow
def test_tensor_parallel_engine_on_a_cluster_with_a_cpu_head(tmp_path: Path) -> None:
    """A real Ray cluster: CPU-only head, one node with 4 logical GPUs (see placement_cluster.py)."""
    ray_tmp = Path(tempfile.mkdtemp(prefix="rp", dir="/tmp"))  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "RAY_TMPDIR": str(ray_tmp),
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-4000:]
    facts = {key: json.loads(value) for key, value in
             (line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)}

    engine = facts["engine"]
    assert engine["node"] == facts["gpu_node"] != facts["head_node"]
    assert engine["group"] == facts["group"]["id"] and engine["own_gpus"] == []
    assert facts["group"]["strategy"] == "STRICT_PACK" and facts["group"]["bundles"] == 2
    assert engine["bundle"] == 0
    assert engine["env"] == {"VLLM_RAY_BUNDLE_INDICES": "0,1", "VLLM_RAY_PER_WORKER_GPUS": "1"}
    # vLLM's way of placing its workers (the captured group, bundles 0..TP-1, one GPU each)
    # gives two distinct GPUs on the engine's node
    assert [w["node"] for w in engine["workers"]] == [facts["gpu_node"]] * 2
    assert len({w["gpu"] for w in engine["workers"]}) == 2

    assert facts["after_stop"] == "REMOVED"
    assert facts["too_many"].startswith("could reserve only 2 of 3 tensor-parallel generators within 3 s")
    assert facts["left_after_failure"] == [] and facts["free_gpus"] == 4.0
    assert "largest alive Ray node has 4 GPUs" in facts["preflight"]


# --- colocate: engine and trainer share a GPU ---------------------------------------------------------


def test_colocated_group_has_a_bundle_per_gpu_with_engine_and_trainer_cpus() -> None:
    assert colocated_bundles(1, trainer_cpus=8) == [{"GPU": 1.0, "CPU": 9.0}]
    # custom resources once, in bundle 0 where the engine asks for them
    assert colocated_bundles(2, trainer_cpus=1, resources={"gen_node": 1}) == [
        {"GPU": 1.0, "CPU": 2.0, "gen_node": 1.0}, {"GPU": 1.0, "CPU": 2.0}]
    with pytest.raises(ValueError):
        colocated_bundles(0, trainer_cpus=1)


def test_engine_and_trainer_each_take_a_share_of_the_same_bundle() -> None:
    from star.config import load_config
    from star.run.workers import colocated_trainer_options, engine_spec, generator_actor_options

    config = load_config(None, {"colocate": True, "generators.gpus_per_generator": 1, "trainer.gpus": 1,
                                "trainer.cpus": 6, "generators.resources": {"gen_node": 1}})
    group = PlacementGroup(PlacementGroupID.from_random())
    engine, trainer = generator_actor_options(config, [group], 0), colocated_trainer_options(config, group)
    places = [options.pop("scheduling_strategy") for options in (engine, trainer)]
    assert engine == {"num_gpus": 0.5, "num_cpus": 1, "resources": {"gen_node": 1}}
    assert trainer == {"num_gpus": 0.5, "num_cpus": 6}
    assert engine["num_gpus"] + trainer["num_gpus"] == 1.0  # together they fill the GPU: nothing else fits
    assert all(p.placement_group is group and p.placement_group_bundle_index == 0 for p in places)
    bundle = colocated_bundles(1, trainer_cpus=6, resources={"gen_node": 1})[0]
    assert bundle["CPU"] == engine["num_cpus"] + trainer["num_cpus"]  # the two fit their bundle exactly
    assert engine_spec(config, "m").enable_sleep_mode is True
    assert engine_spec(load_config(None), "m").enable_sleep_mode is False


def test_separate_layout_is_unchanged_without_colocate() -> None:
    from star.config import load_config
    from star.run.workers import generator_actor_options, trainer_options

    config = load_config(None, {"generators.gpus_per_generator": 1, "trainer.gpus": 1, "trainer.cpus": 6})
    assert generator_actor_options(config, [], 0) == {"num_gpus": 1, "num_cpus": 1}
    assert trainer_options(config.trainer) == {"num_cpus": 6, "num_gpus": 1}


@ray.remote
class SharePlace:
    """Stands for the generator or the trainer actor: reports the GPU Ray gave it."""

    def where(self) -> dict:
        context = ray.get_runtime_context()
        return {"gpus": ray.get_gpu_ids(), "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "group": context.get_placement_group_id(), "resources": context.get_assigned_resources()}


@pytest.fixture
def one_logical_gpu() -> Iterator[None]:
    """A private Ray whose node has one logical GPU (Ray schedules it on a machine without any)."""
    ray.shutdown()  # a driver joins one Ray at a time; the session's instance has no GPU
    ray.init(address="local", num_cpus=4, num_gpus=1, include_dashboard=False, logging_level="WARNING",
             log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_colocated_engine_and_trainer_get_the_same_gpu_on_real_ray(one_logical_gpu: None) -> None:
    from star.config import load_config
    from star.engines.placement import PlacementError, remove_groups, reserve_colocated_group
    from star.run.workers import colocated_group, colocated_trainer_options, generator_actor_options

    config = load_config(None, {"colocate": True, "generators.gpus_per_generator": 1, "trainer.gpus": 1,
                                "trainer.cpus": 2, "generators.placement_timeout": 60})
    groups = colocated_group(config)
    try:
        engine = SharePlace.options(**generator_actor_options(config, groups, 0)).remote()
        trainer = SharePlace.options(**colocated_trainer_options(config, groups[0])).remote()
        places = ray.get([engine.where.remote(), trainer.where.remote()], timeout=120)
        assert [p["group"] for p in places] == [groups[0].id.hex()] * 2
        assert places[0]["gpus"] == places[1]["gpus"] and len(places[0]["gpus"]) == 1
        assert places[0]["visible"] == places[1]["visible"] == str(places[0]["gpus"][0])
        assert [p["resources"] for p in places] == [{"GPU": 0.5, "CPU": 1.0}, {"GPU": 0.5, "CPU": 2.0}]
    finally:
        remove_groups(groups)
    # two GPUs' worth of bundles on a one-GPU node: a clear error, and no group left holding anything
    with pytest.raises(PlacementError, match=r"could not reserve the GPU that the engine and the trainer share "
                                             r"\(colocate\) within 2 s .* set colocate: false"):
        reserve_colocated_group(colocated_bundles(2, trainer_cpus=1), timeout_s=2)
    assert {g["state"] for g in ray.util.placement_group_table().values()} == {"REMOVED"}
