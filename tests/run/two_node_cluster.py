"""A real two-node Ray cluster on this machine, for test_preflight.py (a script, not collected).

Usage: two_node_cluster.py STORAGE (run with RAY_TMPDIR set to a private
folder, so the cluster's files and its ray_current_cluster stay there). Every
port is a free one, so the cluster never collides with another Ray on the host.
Prints `nodes: N`, `storage: ...`, `missing: ...` and `sqlite: ...` lines.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_ports() -> dict:
    return {"dashboard_agent_listen_port": free_port(), "metrics_export_port": free_port(),
            "runtime_env_agent_port": free_port(), "metrics_agent_port": free_port(),
            "min_worker_port": 0, "max_worker_port": 0}


def main(storage: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    from star.errors import StarError
    from star.run.preflight import alive_nodes, check_storage_visible, check_store_for_cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "gcs_server_port": free_port(), "include_dashboard": False, **node_ports()})
    try:
        cluster.add_node(num_cpus=1, **node_ports())
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        cluster.wait_for_nodes()
        nodes = alive_nodes()
        print(f"nodes: {len(nodes)}")
        check_storage_visible(storage, nodes, ray.get_runtime_context().get_node_id())
        print("storage: visible from every node")
        try:  # the same probe on a path no node has: the error names each node
            check_storage_visible_at(storage, nodes)
        except StarError as exc:
            print(f"missing: {exc}")
        try:
            check_store_for_cluster("sqlite", nodes)
            print("sqlite: accepted")
        except StarError as exc:
            print(f"sqlite: {exc}")
    finally:
        ray.shutdown()
        cluster.shutdown()


def check_storage_visible_at(storage: Path, nodes: list) -> None:
    """check_storage_visible's node reads, for a probe file that was never written."""
    from star.run.preflight import ClusterError, read_on_every_node, storage_problems

    bad = storage_problems("never-written", read_on_every_node(storage / "no-such-probe", nodes))
    if bad:
        raise ClusterError("; ".join(f"{label}: {why}" for label, why in sorted(bad.items())))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
