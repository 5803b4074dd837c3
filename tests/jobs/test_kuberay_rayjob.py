"""deploy/kuberay/rayjob.yaml: the RayJob runs `star run` on the config its ConfigMap mounts, and that
config passes star's own checks (those of `star run` and `star submit`) and fits the manifest's GPU pods."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from star.config import load_config
from star.jobs.package import check_cluster_paths
from star.run.preflight import check_gpu_requests

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "deploy" / "kuberay" / "rayjob.yaml"
EXAMPLE = REPO / "examples" / "gsm8k_gpu.yaml"


def _documents() -> dict[str, dict]:
    docs = [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]
    by_kind = {doc["kind"]: doc for doc in docs}
    assert len(by_kind) == len(docs) == 2, "one ConfigMap and one RayJob"
    return by_kind


def _config_file(tmp_path: Path) -> tuple[Path, dict]:
    """The file `star run` is given, written where the head pod would see it, and the RayJob."""
    docs = _documents()
    job, config_map = docs["RayJob"], docs["ConfigMap"]
    assert job["apiVersion"] == "ray.io/v1" and config_map["apiVersion"] == "v1"
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:2] == ["star", "run"] and len(argv) == 3, argv  # no --set: the config says it all
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in head["volumes"]}
    mounts = [mount for container in head["containers"] for mount in container["volumeMounts"]
              if "configMap" in volumes[mount["name"]]]
    assert len(mounts) == 1, "the head mounts the config's ConfigMap once"
    assert volumes[mounts[0]["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
    path = Path(argv[2])
    assert path.parent == Path(mounts[0]["mountPath"]), "the entrypoint reads a file of the mounted ConfigMap"
    assert path.name in config_map["data"], f"the ConfigMap holds no key {path.name}"
    local = tmp_path / path.name
    local.write_text(config_map["data"][path.name])
    return local, job


def test_rayjob_runs_star_run_on_its_configmap_and_shuts_the_cluster_down(tmp_path: Path) -> None:
    _, job = _config_file(tmp_path)
    spec = job["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    # KubeRay deletes the RayCluster at the job's end time + this TTL: minutes, not an hour of idle GPUs
    assert 0 <= spec.get("ttlSecondsAfterFinished", 0) <= 300
    assert spec["rayClusterSpec"]["authOptions"]["mode"] == "token"
    head = spec["rayClusterSpec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-gpus"] == "0"
    for pod in [head["template"]["spec"]] + [g["template"]["spec"] for g in spec["rayClusterSpec"]["workerGroupSpecs"]]:
        for container in pod["containers"]:
            env = {item["name"]: item for item in container["env"]}
            assert env["STAR_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "star-db", "key": "url"}
    (group,) = spec["rayClusterSpec"]["workerGroupSpecs"]
    assert group["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] >= 1


def test_the_mounted_config_passes_star_runs_checks_and_is_the_example(tmp_path: Path) -> None:
    path, _ = _config_file(tmp_path)
    config = load_config(path)  # what `star run /config/...` does first: a bad field exits 2 there
    assert config.database is None, "a `database` in the config would win over the Secret's STAR_DATABASE_URL"
    assert config.ray_address == "auto", "the driver must join the RayJob's cluster, not start its own Ray"
    check_cluster_paths(config, "postgresql://star:secret@db-host:5432/star")  # `star submit`'s cluster rules
    example = yaml.safe_load(EXAMPLE.read_text())
    example.pop("database")
    assert yaml.safe_load(path.read_text()) == example, \
        "the ConfigMap is examples/gsm8k_gpu.yaml without `database`: change both together"


def test_the_worker_pods_hold_every_engine_and_the_trainer(tmp_path: Path) -> None:
    path, job = _config_file(tmp_path)
    config = load_config(path)
    (group,) = job["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    # what Ray reports for each pod: CPUs and GPUs from the limits, custom resources from the group's `resources`
    pod = {"CPU": float(limits["cpu"]), "GPU": float(limits["nvidia.com/gpu"]),
           **{name: float(amount) for name, amount in group.get("resources", {}).items()}}
    # No autoscaler in the manifest: the pods KubeRay starts are all there will be.
    assert "enableInTreeAutoscaling" not in job["spec"]["rayClusterSpec"]
    assert group["replicas"] == group["minReplicas"] == group["maxReplicas"]
    nodes = [{"Alive": True, "Resources": {"CPU": 8.0}}] + [{"Alive": True, "Resources": dict(pod)}
                                                          for _ in range(group["replicas"])]
    check_gpu_requests(config.generators, config.trainer, nodes)  # star's preflight: each request fits one node
    # and all of them at once (star/engines/placement.py: a one-GPU engine asks for 1 GPU and 1 CPU)
    gen = config.generators
    assert gen.gpus_per_generator == 1, "tensor-parallel engines would need placement groups packed per node"
    requests = ([{"GPU": config.trainer.gpus, "CPU": config.trainer.cpus, **config.trainer.resources}]
                + [{"GPU": 1, "CPU": 1, **gen.resources}] * gen.count)
    free = [dict(pod) for _ in range(group["replicas"])]
    for request in requests:  # biggest first, first fit
        node = next((n for n in free if all(n[k] >= v for k, v in request.items())), None)
        assert node is not None, f"no worker pod left for {request}: raise replicas"
        for key, value in request.items():
            node[key] -= value
