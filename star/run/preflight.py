"""Checks `star run` makes before it starts workers, each failing in seconds with the fix.

- Which Ray: no `ray_address` starts a private local instance (never whatever
  cluster this machine started last); 'auto' or an address must answer on its
  port, so a dead cluster (or a stale /tmp/ray/ray_current_cluster left by a
  killed `ray start --head`) fails at once instead of after minutes of retries.
- A cluster of several nodes needs a store every node can reach: not SQLite.
- The checkpoint folder must be the same folder on every node (a shared mount),
  or the next round's generators cannot load the checkpoint the trainer wrote.
- Every GPU request must fit on one alive node: a tensor-parallel engine's GPUs
  (star/engines/placement.py) and the trainer's, with the custom resources that steer
  them to a node type, and a `trainer.same_node` group as a whole. Otherwise its
  placement group or actor would wait for a node that does not exist.
- GPU memory: with `gpu_memory_gb` set, the estimate of star/config/memory.py is
  compared with it and what will not fit is warned about (not refused: it is an estimate).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from star.errors import StarError

if TYPE_CHECKING:
    from star.config import GeneratorsConfig, StarConfig, TrainerConfig

PROBE_CONNECT_TIMEOUT_S = 3.0
PROBE_TASK_TIMEOUT_S = 120.0


class ClusterError(StarError):
    """The Ray cluster cannot run this config as it is."""


# --- which Ray -----------------------------------------------------------------


def ray_address_file() -> str:
    """Where `ray start` records the last cluster it started (honours RAY_TMPDIR / TMPDIR)."""
    from ray._common.utils import get_ray_address_file

    return get_ray_address_file(None)


def resolve_ray_address(configured: str | None, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(address for ray.init, where it came from). None -> 'local': a new private instance.

    'auto' resolves as Ray does: $RAY_ADDRESS, else the address `ray start` wrote
    to ray_current_cluster; unlike Ray it does not fall back to any Ray process it
    finds running on this machine, which may be someone else's.
    """
    env = os.environ if environ is None else environ
    if configured is None or configured == "local":
        return "local", "no ray_address: a local Ray instance for this run"
    if configured != "auto":
        return configured, f"ray_address {configured!r}"
    if env.get("RAY_ADDRESS"):
        return env["RAY_ADDRESS"], "ray_address 'auto' via $RAY_ADDRESS"
    path = ray_address_file()
    try:
        recorded = Path(path).read_text().strip()
    except OSError:
        recorded = ""
    if not recorded:
        raise ClusterError(
            "ray_address is 'auto' but no Ray cluster is recorded ($RAY_ADDRESS is unset and "
            f"{path} is missing); start one with `ray start --head`, set ray_address to HOST:PORT, "
            "or leave ray_address unset to start Ray locally")
    return recorded, f"ray_address 'auto' via {path}"


def probe_ray_address(address: str, source: str, timeout_s: float = PROBE_CONNECT_TIMEOUT_S) -> None:
    """Connect to the cluster's port once; a dead cluster fails here in seconds."""
    if address == "local":
        return
    host, port = _host_port(address, source)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        stale = ""
        if "ray_current_cluster" in source:
            stale = f" (a stale {ray_address_file()} is left by a cluster that was killed)"
        raise ClusterError(
            f"no Ray cluster answers at {host}:{port} ({source}): {exc.strerror or exc}; start the cluster "
            f"(`ray start --head`) or fix ray_address / $RAY_ADDRESS{stale}, or leave ray_address "
            "unset to start Ray locally") from None


def _host_port(address: str, source: str) -> tuple[str, int]:
    bare = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = bare.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ClusterError(f"Ray address {address!r} ({source}) is not HOST:PORT; fix ray_address")
    return host.strip("[]"), int(port)


# --- the model ------------------------------------------------------------------------


def check_model_path(model: str) -> None:
    """A model given as a path must exist here; otherwise vLLM fails minutes later, inside an
    actor, taking the path for a hub repo id."""
    if not model.startswith(("/", "./", "../", "~")):
        return  # a hub name such as Qwen/Qwen2.5-0.5B
    path = Path(model).expanduser()
    if not (path / "config.json").is_file():
        what = "does not exist" if not path.exists() else "has no config.json (not a Hugging Face model folder)"
        raise StarError(f"model {model} {what}; set `model` to a model folder or a hub name")


# --- several nodes ------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    node_id: str
    host: str
    ip: str

    def label(self) -> str:
        return f"{self.host} ({self.ip}, node {self.node_id[:8]})"


def alive_nodes() -> list[Node]:
    import ray

    return [Node(n["NodeID"], n.get("NodeManagerHostname", "?"), n.get("NodeManagerAddress", "?"))
            for n in ray.nodes() if n.get("Alive")]


def check_store_for_cluster(backend: str, nodes: list[Node]) -> None:
    """SQLite lives on one disk and does not take writers over a network file system."""
    if backend == "sqlite" and len(nodes) > 1:
        raise ClusterError(
            f"the store is SQLite but the Ray cluster has {len(nodes)} alive nodes; workers on other "
            "nodes cannot share one SQLite file: use PostgreSQL (--db postgresql://USER@HOST/DB, "
            "then `star db upgrade --db ...` once)")


def storage_problems(token: str, reads: Mapping[str, tuple[str | None, str]]) -> dict[str, str]:
    """Nodes that do not see the probe file: label -> why. `reads` is label -> (content, error)."""
    bad = {}
    for label, (content, error) in reads.items():
        if content == token:
            continue
        bad[label] = error or "sees a different file at that path (not the same shared folder)"
    return bad


def check_storage_visible(storage: Path, nodes: list[Node], driver_node: str | None) -> None:
    """Write a probe file here and read it back from a task on every node."""
    if len(nodes) == 1 and nodes[0].node_id == driver_node:
        return  # one node, and it is this machine: same disk by definition
    storage = storage.resolve()
    token = secrets.token_hex(16)
    probe = storage / f".star-probe-{token}"
    try:
        storage.mkdir(parents=True, exist_ok=True)
        probe.write_text(token)
    except OSError as exc:
        raise ClusterError(f"cannot write to storage {storage}: {exc.strerror or exc}; fix `storage`") from None
    try:
        bad = storage_problems(token, read_on_every_node(probe, nodes))
    finally:
        probe.unlink(missing_ok=True)
    if bad:
        shown = "; ".join(f"{label}: {why}" for label, why in sorted(bad.items()))
        raise ClusterError(
            f"storage {storage} is not visible from every Ray node ({shown}); set `storage` to a folder "
            "shared by all nodes (NFS, a mounted bucket) at the same path")


def check_storage_reachable(storage: str) -> None:
    """A storage URI: the driver can open it and look inside (bucket there, credentials accepted).
    Each node's own access shows when its trainer publishes or its engines fetch."""
    from star.storage.checkpoints import is_complete

    try:
        is_complete(storage, f".star-probe-{secrets.token_hex(8)}")
    except StarError as exc:
        raise ClusterError(f"{exc}; fix `storage` or the credentials before the run starts") from None


def read_on_every_node(probe: Path, nodes: list[Node]) -> dict[str, tuple[str | None, str]]:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    reader = ray.remote(num_cpus=0, max_retries=0)(read_probe)
    refs = {
        node.label(): reader.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False)).remote(str(probe))
        for node in nodes
    }
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=PROBE_TASK_TIMEOUT_S)
    reads: dict[str, tuple[str | None, str]] = {}
    for label, ref in refs.items():
        if ref not in ready:
            reads[label] = (None, f"the probe task did not finish within {PROBE_TASK_TIMEOUT_S:.0f} s")
            continue
        try:
            reads[label] = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - the node's failure is the finding
            reads[label] = (None, f"the probe task failed ({type(exc).__name__})")
    return reads


def read_probe(path: str) -> tuple[str | None, str]:
    """On a node: the probe file's content, or why it cannot be read."""
    try:
        return Path(path).read_text(), ""
    except OSError as exc:
        return None, f"cannot read {path} ({exc.strerror or exc})"


# --- GPUs -----------------------------------------------------------------------------


def check_gpu_requests(generators: GeneratorsConfig, trainer: TrainerConfig,
                       ray_nodes: Sequence[Mapping]) -> None:
    """Each engine's and the trainer's GPUs must fit on one alive node (`ray_nodes`: as
    `ray.nodes()` returns them), with the custom resources that steer them there. Totals, not
    free GPUs: busy GPUs free up, and the placement group's ready timeout covers that."""
    alive = [dict(n.get("Resources") or {}) for n in ray_nodes if n.get("Alive")]
    _check_fits("generators.gpus_per_generator", generators.gpus_per_generator, "generators.resources",
                generators.resources, alive, "one engine's GPUs (tensor parallel)")
    from star.training.group import worker_count

    workers = worker_count(trainer)
    if workers == 1:
        _check_fits("trainer.gpus", trainer.gpus, "trainer.resources", trainer.resources, alive,
                    "the trainer actor's GPUs")
    elif trainer.same_node:
        check_group_on_one_node(trainer, workers, alive)
    else:  # a worker group may span nodes; each worker's GPUs are on one
        _check_fits("trainer.gpus", trainer.gpus // workers, "trainer.resources", trainer.resources, alive,
                    f"each of the {workers} training workers' GPUs")


def _check_fits(field: str, gpus: int, resources_field: str, resources: Mapping[str, float], alive: list[dict],
                what: str) -> None:
    if gpus == 0:
        return
    largest = max((node.get("GPU", 0.0) for node in alive), default=0.0)
    fix = (f"lower {field} to {int(largest)} or less, or add a node with {gpus} GPUs (an autoscaling cluster "
           "must keep one up: min_workers >= 1)") if largest else f"add a node with {gpus} GPUs or set {field} to 0"
    if largest < gpus:
        raise ClusterError(f"{field} is {gpus}: {what} must be on one node, but the largest alive Ray node has "
                           f"{largest:g} GPUs; {fix}")
    if not any(_holds(node, {"GPU": gpus, **resources}) for node in alive):
        raise ClusterError(f"{field} is {gpus} and {resources_field} is {dict(resources)}, but no alive Ray node "
                           f"has both {gpus} GPUs and those resources; start a node with both (an autoscaling "
                           f"cluster must keep one of that node type up: min_workers >= 1), or change "
                           f"{resources_field}")


def check_group_on_one_node(trainer: TrainerConfig, workers: int, alive: list[dict]) -> None:
    """trainer.same_node: the whole group (Ray Train's STRICT_PACK placement group) on one node, or
    the group would wait for a node that never comes; nodes of another type cannot stand in."""
    per_worker = {"GPU": trainer.gpus / workers, "CPU": float(trainer.cpus) if trainer.gpus else 0.0,
                  **trainer.resources}
    group = {name: amount * workers for name, amount in per_worker.items() if amount}
    if any(_holds(node, group) for node in alive):
        return
    shown = ", ".join(f"{name} {amount:g}" for name, amount in group.items())
    raise ClusterError(
        f"trainer.same_node is true: all {workers} training workers must share one node ({shown}), but no alive "
        "Ray node holds that; start a node of the type that does (an autoscaling cluster must keep one up: "
        "min_workers >= 1), lower trainer.gpus or trainer.cpus, or set trainer.same_node to false to let the "
        "group span nodes")


def _holds(node: Mapping[str, float], request: Mapping[str, float]) -> bool:
    return all(node.get(name, 0.0) >= amount for name, amount in request.items())


# --- GPU memory -------------------------------------------------------------------------------------


def memory_warnings_for(config: StarConfig, model: str) -> list[str]:
    """What will not fit the GPU memory the config names (trainer/generators.gpu_memory_gb), from the
    model's config.json found here without a download; a note instead when the shape is unknown."""
    from star.config.memory import memory_warnings, read_model_shape

    if not (config.trainer.gpu_memory_gb or config.generators.gpu_memory_gb):
        return []
    shape = read_model_shape(model)
    if shape is None:
        return [(f"GPU memory not estimated: no config.json of {model} here (a local folder or the Hugging Face "
                 f"cache); `hf download {model} config.json` makes it readable")]
    return memory_warnings(config, shape)
