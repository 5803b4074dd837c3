"""What the KubeRay manifests leave behind after a run or a tick, checked against KubeRay 1.7's own
rules (ray-operator/controllers/ray/utils/validation.go and rayjob_controller.go at v1.7.0):

- the RayJob's cluster goes a minute after the run, not an hour (KubeRay deletes it at the job's
  end time + ttlSecondsAfterFinished);
- every RayJob a RayCronJob creates deletes its cluster at once and itself within a week: the
  RayCronJob has no history limit, and a RayJob in clusterSelector mode is never cleaned up at all,
  which is why each tick brings its own cluster;
- the RayCronJob's feature gate (off by default) is named where a user reads first.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CRON = REPO / "deploy" / "kuberay" / "star-raycronjob.yaml"
RAYJOB = REPO / "deploy" / "kuberay" / "rayjob.yaml"
#: KubeRay 1.7: MaxRayClusterNameLength (53) - 6 - 11, so each tick's RayJob name stays valid
MAX_RAYCRONJOB_NAME = 36
#: KubeRay's deletion order: a later policy's TTL may not be shorter (validateTTLConsistency)
DELETION_ORDER = ("DeleteWorkers", "DeleteCluster", "DeleteSelf")
WEEK = 7 * 24 * 3600


def _cron() -> dict:
    return yaml.safe_load(CRON.read_text())


def _by_condition(rules: list[dict]) -> dict[tuple[str, str], dict[str, int]]:
    """{(condition field, value): {policy: ttlSeconds}}, refusing what KubeRay refuses: a rule with
    both or neither condition, and a (condition, policy) pair given twice."""
    grouped: dict[tuple[str, str], dict[str, int]] = {}
    for rule in rules:
        condition = rule["condition"]
        keys = [key for key in ("jobStatus", "jobDeploymentStatus") if key in condition]
        assert len(keys) == 1, f"a deletion condition needs exactly one of jobStatus, jobDeploymentStatus: {rule}"
        policies = grouped.setdefault((keys[0], condition[keys[0]]), {})
        assert rule["policy"] not in policies, f"duplicate deletion rule {rule}"
        policies[rule["policy"]] = condition.get("ttlSeconds", 0)
    return grouped


def test_each_ticks_rayjob_deletes_its_cluster_at_once_and_itself_within_a_week() -> None:
    template = _cron()["spec"]["jobTemplate"]
    # KubeRay 1.7 skips every deletion for a RayJob on an existing cluster (clusterSelector)
    assert "clusterSelector" not in template and "rayClusterSpec" in template
    # rules mode excludes the older mechanisms (validateDeletionConfiguration)
    assert "shutdownAfterJobFinishes" not in template and "ttlSecondsAfterFinished" not in template
    grouped = _by_condition(template["deletionStrategy"]["deletionRules"])
    ends = {("jobStatus", "SUCCEEDED"), ("jobStatus", "FAILED"), ("jobDeploymentStatus", "Failed")}
    assert set(grouped) == ends, "every way a tick can end needs its rules"
    for condition, policies in grouped.items():
        ttls = [policies[p] for p in DELETION_ORDER if p in policies]
        assert ttls == sorted(ttls), f"{condition}: KubeRay needs Workers <= Cluster <= Self TTLs, got {policies}"
        assert policies["DeleteCluster"] <= 300, f"{condition}: the GPU pods must go within minutes"
        assert 0 < policies["DeleteSelf"] <= WEEK, f"{condition}: the history is bounded by DeleteSelf"


def test_the_raycronjob_names_its_feature_gate_and_fits_kuberays_name_limit() -> None:
    cron = _cron()
    assert len(cron["metadata"]["name"]) <= MAX_RAYCRONJOB_NAME
    assert "TZ" not in cron["spec"]["schedule"], "KubeRay wants the zone in timeZone"
    header = CRON.read_text().split("apiVersion:")[0]
    assert "feature-gates=RayCronJob=true" in header and "OFF by default" in header
    scheduling = (REPO / "docs" / "scheduling.md").read_text()
    assert "RayCronJob=true" in scheduling and "featureGates" in scheduling


def test_the_rayjob_ttl_deletes_the_cluster_promptly_and_says_what_it_does() -> None:
    text = RAYJOB.read_text()
    job = next(doc for doc in yaml.safe_load_all(text) if doc and doc["kind"] == "RayJob")
    assert job["spec"]["shutdownAfterJobFinishes"] is True and job["spec"]["ttlSecondsAfterFinished"] <= 300
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("ttlSecondsAfterFinished:"))
    comment = " ".join(line.strip() for line in lines[at - 4:at])
    assert "end time + TTL" in comment, "the field's comment says when KubeRay deletes the cluster"
