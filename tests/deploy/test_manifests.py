"""Every Kubernetes manifest in deploy/ against the schema of its kind, so a field that does not
exist (a typo, a field of another KubeRay version, a history limit the RayCronJob never had) fails
here rather than on `kubectl apply`, or worse, is silently pruned by the API server.

- KubeRay kinds: the CRD's own openAPIV3Schema (tests/data/kuberay, KubeRay 1.7.0). A CRD's schema
  lists each object's fields without forbidding others (the API server prunes unknown ones, and
  `kubectl apply --validate=strict` refuses them); the check adds that refusal wherever the schema
  does not keep unknown fields on purpose (x-kubernetes-preserve-unknown-fields).
- Core kinds: Kubernetes 1.33's strict JSON schemas (tests/data/kubernetes).
CEL rules (x-kubernetes-validations) are not evaluated; the KubeRay semantics star relies on are
checked by name below.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
MANIFESTS = sorted((REPO / "deploy").rglob("*.yaml"))
CRDS = {"RayJob": "ray.io_rayjobs.yaml", "RayCronJob": "ray.io_raycronjobs.yaml"}
CORE = {("v1", "ConfigMap"): "configmap-v1.json", ("apps/v1", "Deployment"): "deployment-apps-v1.json",
        ("batch/v1", "CronJob"): "cronjob-batch-v1.json", ("v1", "Service"): "service-v1.json"}
OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


#: libyaml's loader where PyYAML has it: the CRDs are megabytes of YAML
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def documents() -> Iterator[tuple[str, dict]]:
    for path in MANIFESTS:
        for index, doc in enumerate(yaml.load_all(path.read_text(), Loader=LOADER)):
            if doc:
                yield f"{path.relative_to(REPO)}#{index}", doc


def strict(schema: Any) -> Any:
    """`schema` with unknown fields refused wherever an object lists its fields and does not keep
    unknown ones on purpose: what the API server's strict field validation does."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


@cache
def registry() -> Registry:
    definitions = json.loads((DATA / "kubernetes" / "_definitions.json").read_text())
    return Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))


@cache
def crd_schema(kind: str) -> dict:
    crd = yaml.load((DATA / "kuberay" / CRDS[kind]).read_text(), Loader=LOADER)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    schema["properties"]["metadata"] = {"$ref": OBJECT_META}  # a CRD's metadata is the usual ObjectMeta
    schema["properties"]["apiVersion"]["enum"] = ["ray.io/v1"]
    schema["properties"]["kind"]["enum"] = [kind]
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    return schema


@cache
def core_schema(api_version: str, kind: str) -> dict:
    return json.loads((DATA / "kubernetes" / CORE[(api_version, kind)]).read_text())


def errors(doc: dict) -> list[str]:
    """Every schema violation of one manifest document, as 'path: message'."""
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if api_version == "ray.io/v1" and kind in CRDS:
        schema = crd_schema(kind)
    elif (api_version, kind) in CORE:
        schema = core_schema(api_version, kind)
    else:
        return [f"no schema for {api_version} {kind} in tests/data: add its CRD or Kubernetes schema"]
    validator = jsonschema.Draft202012Validator(schema, registry=registry())
    return sorted(f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
                  for error in validator.iter_errors(doc))


@pytest.mark.parametrize(("where", "doc"), list(documents()), ids=[where for where, _ in documents()])
def test_every_manifest_is_valid_for_its_kind(where: str, doc: dict) -> None:
    assert errors(doc) == [], f"{where} ({doc.get('kind')})"


def test_a_field_that_does_not_exist_fails() -> None:
    """The check is strict where kubectl's is: a typo, or a field KubeRay's RayCronJob does not have."""
    manifests = {doc["kind"]: doc for _, doc in documents()}
    cron = copy.deepcopy(manifests["RayCronJob"])
    cron["spec"]["successfulJobsHistoryLimit"] = 3  # batch/v1 CronJob has it; RayCronJob 1.7 does not
    assert any("successfulJobsHistoryLimit" in e for e in errors(cron))
    job = copy.deepcopy(manifests["RayJob"])
    job["spec"]["ttlSecondAfterFinished"] = 60
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resource"] = {}
    found = errors(job)
    assert any("ttlSecondAfterFinished" in e for e in found) and any("'resource'" in e for e in found)
    deployment = copy.deepcopy(manifests["Deployment"])
    deployment["spec"]["replica"] = 1
    assert any("replica" in e for e in errors(deployment))
    config_map = copy.deepcopy(manifests["ConfigMap"])
    config_map["data"] = {"gsm8k_gpu.yaml": 1}  # data values are strings
    assert errors(config_map)
