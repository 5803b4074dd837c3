"""Lose the node running the generation worker mid-round: the run completes with exact counts.

A real multi-node Ray cluster on this machine (`ray.cluster_utils.Cluster`: a
head plus worker nodes, each its own raylet): the generator asks for a custom
resource only worker nodes have. Mid-generation a replacement node joins (as an
autoscaler would bring one) and the generator's node is removed, which kills
its raylet and every process on it; Ray restarts the actor on the new node.

The driver can be connected to one cluster at a time, so this file does not use
the session's local Ray: its fixture disconnects it, and `ray_session` starts a
local one again for the tests that follow.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest
import ray
from sqlalchemy import select

from db.models import Round
from star.config import validate_config
from star.loop.rounds import run_rounds
from star.run.workers import stop_workers

pytestmark = pytest.mark.slow

GEN = "gen_node"
K, HINTED = 2, 4


@pytest.fixture
def cluster() -> Iterator[object]:
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    # A short private temp dir: socket paths must stay short, and the cluster's
    # address file must not be where other Ray users on this machine look.
    temp = tempfile.mkdtemp(prefix="rayc", dir="/tmp")
    saved = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = temp
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    test_cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    try:
        test_cluster.add_node(num_cpus=1, resources={GEN: 1})
        ray.init(address=test_cluster.address, logging_level="WARNING", log_to_driver=False)
        yield test_cluster
    finally:
        ray.shutdown()
        test_cluster.shutdown()
        if saved is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = saved
        shutil.rmtree(temp, ignore_errors=True)


def test_losing_the_generators_node_mid_round_completes_the_run_exactly(
    tmp_path, tiny_model, cluster, hooked_progress, start_real_run, real_round_config, assert_exact_counts
):
    config = validate_config(real_round_config(
        tmp_path, tiny_model, run_name="node-loss", generators={"max_model_len": 256, "cpu_kv_cache_gb": 1,
                                                                "resources": {GEN: 1}}))
    events: dict[str, float] = {}
    (first_node,) = cluster.worker_nodes

    def replace_node() -> None:
        replacement = cluster.add_node(num_cpus=1, resources={GEN: 1})
        events["node_added"] = time.monotonic()
        cluster.remove_node(first_node, allow_graceful=False)  # the machine is gone: nothing shuts down cleanly
        events["node_removed"] = time.monotonic()
        events["replacement"] = replacement.node_id

    progress = hooked_progress({"round 1: generate": replace_node})
    ctx = start_real_run(config, progress)
    generator = ctx.workers.generators[0]
    before = ray.get(generator.describe.remote())
    assert before["node"] == first_node.node_id
    try:
        run_rounds(ctx)
        after = ray.get(generator.describe.remote())
    finally:
        stop_workers(ctx.workers)

    assert "node_removed" in events, "the node must have been lost mid-phase"
    assert after["node"] == events["replacement"]  # restarted on the node that took over
    assert_exact_counts(ctx)
    with ctx.sessions() as session:
        assert all(r.status == "done" for r in session.scalars(select(Round)))
    # Every actor the node held comes back, once. The checker (num_cpus=0) may
    # have been placed on the lost node too; the generator certainly was.
    lost = {line.split(": ", 1)[1].split(" lost", 1)[0] for _, line in progress.lines if " lost (" in line}
    revived = [line.split(": ", 1)[1].split(" serves again", 1)[0] for _, line in progress.lines
               if "serves again" in line]
    assert "generation worker 0" in lost, progress.lines
    assert set(revived) == lost, progress.lines
    back = [(t, line) for t, line in progress.lines if "generation worker 0 serves again" in line]
    assert len(back) == 1, progress.lines
    print(f"measured: node removed -> worker serving again on the new node "
          f"{back[0][0] - events['node_removed']:.1f} s (removal itself took "
          f"{events['node_removed'] - events['node_added']:.1f} s)")
