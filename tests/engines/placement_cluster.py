"""A Ray cluster with a CPU-only head and a node of 4 logical GPUs, for test_placement.py
(a script, not collected).

Run with RAY_TMPDIR set to a private folder. Places a tensor-parallel generator as
star/run/workers.py does, with a probe actor in place of the vLLM engine (the test is about
placement, not generation): the probe reports where it runs and starts one GPU worker
per bundle the way vLLM's Ray executor does. Prints `key: JSON` lines.
"""

from __future__ import annotations

import json
import os
import time

import ray
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from star.errors import StarError

TP = 2


@ray.remote
class GpuWorker:
    """Stands for one of vLLM's tensor-parallel Ray workers."""

    def where(self) -> dict:
        return {"node": ray.get_runtime_context().get_node_id(), "gpu": ray.get_gpu_ids()[0]}


@ray.remote
class EngineProbe:
    """Stands for the generator actor: prepares the environment as it does, reports its place."""

    def __init__(self, tensor_parallel: int) -> None:
        from star.engines.placement import prepare_engine_env

        prepare_engine_env(tensor_parallel, on_cpu=False)

    def report(self) -> dict:
        context = ray.get_runtime_context()
        group = ray.util.get_current_placement_group()  # how vLLM finds the group it must use
        indices = [int(i) for i in os.environ["VLLM_RAY_BUNDLE_INDICES"].split(",")]
        workers = [GpuWorker.options(num_cpus=0, num_gpus=float(os.environ["VLLM_RAY_PER_WORKER_GPUS"]),
                                     scheduling_strategy=PlacementGroupSchedulingStrategy(
                                         group, placement_group_bundle_index=i,
                                         placement_group_capture_child_tasks=True)).remote() for i in indices]
        return {"node": context.get_node_id(), "group": context.get_placement_group_id(),
                "own_gpus": ray.get_gpu_ids(), "bundle": _bundle_index(),
                "env": {k: v for k, v in os.environ.items() if k.startswith("VLLM_RAY_")},
                "workers": ray.get([w.where.remote() for w in workers])}


def _bundle_index() -> int | None:
    """The bundle this worker holds resources of: Ray names them bundle_group_<index>_<group id>
    (the public get_assigned_resources() drops the names)."""
    from ray._private.worker import global_worker

    for name in global_worker.core_worker.resource_ids():
        head, _, rest = name.partition("bundle_group_")
        index = rest.split("_")[0]
        if not head and index.isdigit():
            return int(index)
    return None


def say(key: str, value: object) -> None:
    print(f"{key}: {json.dumps(value)}", flush=True)


def main() -> None:
    from ray.cluster_utils import Cluster
    from tests.run.two_node_cluster import free_port, node_ports  # PYTHONPATH holds the repo root

    from star.config import GeneratorsConfig, TrainerConfig, load_config
    from star.engines.placement import generator_options, reserve_engine_groups
    from star.run.preflight import check_gpu_requests
    from star.run.workers import Workers, start_workers, stop_workers
    from star.tasks import build_task

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "num_gpus": 0, "gcs_server_port": free_port(), "include_dashboard": False, **node_ports()})
    try:
        gpu_node = cluster.add_node(num_cpus=4, num_gpus=4, resources={"gen_node": 2}, **node_ports())
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        cluster.wait_for_nodes()
        say("head_node", cluster.head_node.node_id)
        say("gpu_node", gpu_node.node_id)

        groups = reserve_engine_groups(1, TP, {"gen_node": 1}, timeout_s=60)
        table = ray.util.placement_group_table(groups[0])
        say("group", {"id": groups[0].id.hex(), "strategy": table["strategy"], "bundles": len(table["bundles"])})
        probe = EngineProbe.options(**generator_options(TP, {"gen_node": 1}, groups[0])).remote(TP)
        say("engine", ray.get(probe.report.remote(), timeout=120))
        stop_workers(Workers(generators=[probe], checker=None, trainer=None, placement_groups=groups))
        say("after_stop", ray.util.placement_group_table(groups[0])["state"])

        # 3 engines of 2 GPUs on a 4-GPU node: the third never fits; start_workers leaves nothing behind
        config = load_config(None, {"generators.count": 3, "generators.gpus_per_generator": TP,
                                    "generators.placement_timeout": 3})
        try:
            start_workers(config, "unused-model", build_task(config.task))
            say("too_many", "started")
        except StarError as exc:
            say("too_many", str(exc))
        say("left_after_failure", [g["placement_group_id"] for g in ray.util.placement_group_table().values()
                                   if g["state"] != "REMOVED"])
        say("free_gpus", _free_gpus_settled(4.0))
        try:
            check_gpu_requests(GeneratorsConfig(gpus_per_generator=8), TrainerConfig(), ray.nodes())
            say("preflight", "accepted")
        except StarError as exc:
            say("preflight", str(exc))
    finally:
        ray.shutdown()
        cluster.shutdown()


def _free_gpus_settled(expected: float, timeout_s: float = 20) -> float:
    """Removed groups give their GPUs back asynchronously."""
    deadline = time.monotonic() + timeout_s
    while True:
        free = ray.available_resources().get("GPU", 0.0)
        if free == expected or time.monotonic() > deadline:
            return free
        time.sleep(0.5)


if __name__ == "__main__":
    main()
