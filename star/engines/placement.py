"""Where a generation engine runs: the Ray options of CPU, one-GPU and tensor-parallel engines.

A tensor-parallel engine (`generators.gpus_per_generator` > 1) follows vLLM's RLHF
example (examples/offline_inference/rlhf.py) and OpenRLHF's `create_vllm_engines`
(openrlhf/trainer/ray/vllm_engine.py), the two places that run a vLLM `LLM` inside
a Ray actor with the Ray executor:

- One placement group per engine: TP bundles of {"GPU": 1, "CPU": 1}, STRICT_PACK,
  so all of an engine's GPUs are on one node (its NCCL all-reduces stay inside the
  node; vLLM only warns when they do not, and runs slowly).
- The generator actor is scheduled into bundle 0 with
  placement_group_capture_child_tasks=True and reserves no GPU itself. vLLM finds
  the group with `ray.util.get_current_placement_group()` and puts one Ray worker
  per GPU into bundles 0..TP-1 (`VLLM_RAY_BUNDLE_INDICES`, one GPU each:
  `VLLM_RAY_PER_WORKER_GPUS`), so the actor shares its node with the workers, as
  vLLM requires. The actor takes bundle 0's CPU; vLLM's workers ask for none.
- A zero-GPU actor must still see the node's GPUs: older Ray releases (and newer
  ones with RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO=1, ray-project/ray#54868) set
  CUDA_VISIBLE_DEVICES="" in it, and
  vLLM's platform check then finds no GPU. OpenRLHF pops the variable whenever the
  backend is Ray; we drop it only when it is empty, so an operator's restriction
  of a node to some GPUs still holds (vLLM sets each worker's own devices).

Without the group the actor asked for no GPU, Ray could place it on a CPU-only
head node, and vLLM refused to start there.

`generators.resources` (custom resources such as {gen_node: 1}) go into bundle 0,
where the actor asks for them: STRICT_PACK then puts the whole engine on a node
that has them, and each engine still consumes them once, as a one-GPU engine does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from star.errors import StarError

STRATEGY = "STRICT_PACK"
HIDDEN_DEVICE_VARS = ("CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES")


class PlacementError(StarError):
    """The cluster could not reserve the GPUs an engine needs."""


def engine_bundles(tensor_parallel: int, resources: Mapping[str, float] | None = None) -> list[dict[str, float]]:
    """The bundles of one tensor-parallel engine's group: one GPU and one CPU each,
    the custom resources in bundle 0 (where the actor asks for them)."""
    if tensor_parallel < 2:
        raise ValueError(f"a placement group is for tensor parallel > 1, not {tensor_parallel}")
    bundles = [{"GPU": 1.0, "CPU": 1.0} for _ in range(tensor_parallel)]
    bundles[0].update({name: float(amount) for name, amount in (resources or {}).items()})
    return bundles


def generator_options(gpus: int, resources: Mapping[str, float] | None = None, group: Any = None) -> dict:
    """Ray actor options of one generator. CPU (0) and one GPU: plain requests. Tensor
    parallel: bundle 0 of `group` (from `reserve_engine_groups`), no GPU of its own.
    Custom resources pin engines to labelled nodes (a restarted engine goes to a node
    that has them; in a group it keeps its bundle)."""
    extra = {"resources": dict(resources)} if resources else {}
    if gpus == 0:
        return {"num_cpus": 0, **extra}
    if gpus == 1:
        return {"num_gpus": 1, "num_cpus": 1, **extra}
    if group is None:
        raise ValueError("a tensor-parallel generator needs its placement group")
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    strategy = PlacementGroupSchedulingStrategy(
        placement_group=group, placement_group_bundle_index=0, placement_group_capture_child_tasks=True)
    return {"num_cpus": 1, "num_gpus": 0, "scheduling_strategy": strategy, **extra}


def tensor_parallel_env(tensor_parallel: int) -> dict[str, str]:
    """What vLLM reads to put its workers in bundles 0..TP-1 of the actor's group, one GPU each."""
    return {"VLLM_RAY_BUNDLE_INDICES": ",".join(str(i) for i in range(tensor_parallel)),
            "VLLM_RAY_PER_WORKER_GPUS": "1"}


def prepare_engine_env(tensor_parallel: int, on_cpu: bool, environ: MutableMapping[str, str] | None = None) -> None:
    """In the generator actor, before vLLM starts: a GPU tensor-parallel engine's settings."""
    env = os.environ if environ is None else environ
    if on_cpu or tensor_parallel < 2:
        return
    env.update(tensor_parallel_env(tensor_parallel))
    for name in HIDDEN_DEVICE_VARS:
        if env.get(name) == "":
            del env[name]  # Ray hid the node's GPUs from this zero-GPU actor


def reserve_engine_groups(count: int, tensor_parallel: int, resources: Mapping[str, float] | None,
                          timeout_s: float) -> list:
    """One ready STRICT_PACK group per engine, or none: on a timeout every group is removed
    and a PlacementError says what could not be reserved."""
    bundles = engine_bundles(tensor_parallel, resources)
    groups, ready = _reserve({f"star-engine-{index}": bundles for index in range(count)}, timeout_s)
    if ready < len(groups):
        remove_groups(groups)
        raise PlacementError(_not_reserved(ready, count, tensor_parallel, resources, timeout_s))
    return groups


def _reserve(bundles_by_name: Mapping[str, list[dict[str, float]]], timeout_s: float) -> tuple[list, int]:
    """(groups, how many became ready within `timeout_s`); an interrupted reservation leaves no group."""
    import ray
    from ray.util.placement_group import placement_group

    groups = []
    try:
        for name, bundles in bundles_by_name.items():
            groups.append(placement_group(bundles, strategy=STRATEGY, name=name))
        ready, _ = ray.wait([group.ready() for group in groups], num_returns=len(groups), timeout=timeout_s)
    except BaseException:
        remove_groups(groups)
        raise
    return groups, len(ready)


def _not_reserved(ready: int, count: int, tensor_parallel: int, resources: Mapping[str, float] | None,
                  timeout_s: float) -> str:
    needs = f"{tensor_parallel} free GPUs on one node" + (f" with resources {dict(resources)}" if resources else "")
    return (f"could reserve only {ready} of {count} tensor-parallel generators within {timeout_s:g} s "
            f"(generators.placement_timeout): each needs {needs} (generators.gpus_per_generator={tensor_parallel}); "
            "`ray status` shows the free GPUs: free some, add a node that large, raise generators.placement_timeout "
            "if one is starting, or lower generators.count or generators.gpus_per_generator")


def remove_groups(groups: Sequence) -> None:
    """Give the groups' GPUs back; a group already removed (or never ready) is no error."""
    from ray.util import remove_placement_group

    for group in groups:
        try:
            remove_placement_group(group)
        except Exception:  # noqa: BLE001 - removing the others matters more than why one failed
            pass


# --- colocate: engine and trainer on the same GPU ------------------------------------------------------
#
# As OpenRLHF's colocate_all (openrlhf/cli/train_ppo_ray.py, trainer/ray/vllm_engine.py): one shared
# placement group of {"GPU": 1, "CPU": ...} bundles, and every actor on a GPU asks for a fraction of its
# bundle's GPU, so Ray gives them all that GPU's id. Ray only schedules; the memory is shared in time,
# the engines sleeping while the trainer trains (star/engines/sleep.py).

#: the share of a colocated bundle's GPU that the engine and the trainer each ask for; the two halves
#: fill the GPU, so Ray places no other GPU work on it.
COLOCATED_GPU_SHARE = 0.5
#: CPUs a colocated engine asks for (as a one-GPU engine does)
ENGINE_CPUS = 1


def colocated_bundles(gpus: int, trainer_cpus: int, resources: Mapping[str, float] | None = None,
                      ) -> list[dict[str, float]]:
    """The shared group: one bundle per GPU with the CPUs of an engine and of a trainer process
    (trainer.cpus keeps its meaning); custom resources in bundle 0, where the engine asks for them."""
    if gpus < 1:
        raise ValueError(f"colocation shares GPUs; {gpus} GPUs is none")
    bundles = [{"GPU": 1.0, "CPU": float(ENGINE_CPUS + trainer_cpus)} for _ in range(gpus)]
    bundles[0].update({name: float(amount) for name, amount in (resources or {}).items()})
    return bundles


def colocated_options(group: Any, bundle_index: int, cpus: int,
                      resources: Mapping[str, float] | None = None) -> dict:
    """Ray options of an actor (an engine or the trainer) taking its share of one bundle's GPU."""
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    strategy = PlacementGroupSchedulingStrategy(placement_group=group, placement_group_bundle_index=bundle_index)
    extra = {"resources": dict(resources)} if resources else {}
    return {"num_gpus": COLOCATED_GPU_SHARE, "num_cpus": cpus, "scheduling_strategy": strategy, **extra}


def reserve_colocated_group(bundles: list[dict[str, float]], timeout_s: float) -> Any:
    """The ready shared group, or a PlacementError (and no group) after `timeout_s`."""
    groups, ready = _reserve({"star-colocated": bundles}, timeout_s)
    if not ready:
        remove_groups(groups)
        needs = ", ".join(f"{k} {v:g}" for k, v in bundles[0].items())
        raise PlacementError(
            f"could not reserve the GPU that the engine and the trainer share (colocate) within {timeout_s:g} s "
            f"(generators.placement_timeout): it needs {len(bundles)} bundle(s) of {needs} on one node; "
            "`ray status` shows what is free: free a GPU, lower trainer.cpus, raise generators.placement_timeout "
            "if a node is starting, or set colocate: false")
    return groups[0]
