"""Packaging a config for a Ray job: local files travel in working_dir, paths are rewritten.

No Ray here: these are the plain functions `star submit` calls before it talks
to a cluster. The end-to-end proof (the job really runs from the package) is
tests/cluster/test_jobs_cluster.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from star.config import load_config
from star.errors import StarError
from star.jobs.package import (
    CONFIG_NAME,
    MODEL_LIMIT_BYTES,
    check_cluster_paths,
    job_env,
    runtime_env,
    stage_job,
)
from star.tasks import build_task

DATA = Path(__file__).resolve().parents[1] / "data" / "gsm8k"


def _gsm8k_config(tmp_path: Path, **task: object):
    template = tmp_path / "prompt.txt"
    template.write_text("Question: {{question}}{{hint}}\nAnswer:")
    section = {"name": "gsm8k", "train_path": str(DATA / "train.jsonl"), "eval_path": str(DATA / "test.jsonl"),
               "train_size": 20, "eval_size": 5, "shots": 2, "prompt_template": str(template), **task}
    return load_config(None, {"task": section, "storage": "/mnt/shared/runs", "run_name": "pkg"})


def test_local_files_are_copied_and_paths_rewritten_so_the_job_loads_the_same_task(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _gsm8k_config(tmp_path)
    staging = tmp_path / "staging"
    staging.mkdir()
    staged = stage_job(config, staging, source="cfg.yaml")

    assert staged.copied == {"task.train_path": "data/train_path/train.jsonl",
                             "task.eval_path": "data/eval_path/test.jsonl",
                             "task.prompt_template": "data/prompt_template/prompt.txt"}
    raw = yaml.safe_load((staging / CONFIG_NAME).read_text())
    for field, relative in staged.copied.items():
        assert raw["task"][field.split(".")[1]] == relative
        assert not Path(relative).is_absolute()
    assert (staging / "data/train_path/train.jsonl").read_bytes() == (DATA / "train.jsonl").read_bytes()
    # Nothing in the staged config names this machine's files.
    assert str(tmp_path) not in yaml.safe_dump(raw) and str(DATA) not in yaml.safe_dump(raw)

    # On the cluster the job runs in the unpacked working_dir: the same task comes out.
    monkeypatch.chdir(staging)
    on_cluster = load_config(Path(CONFIG_NAME))
    assert Path(on_cluster.task.train_path) == staging / "data/train_path/train.jsonl"
    original, shipped = build_task(config.task), build_task(on_cluster.task)
    assert [p.uid for p in shipped.train_problems()] == [p.uid for p in original.train_problems()]
    assert shipped.prompt(shipped.train_problems()[0]).startswith("Question:")
    assert runtime_env(staged, {"A": "1"}) == {"working_dir": str(staging), "env_vars": {"A": "1"}}


def test_a_missing_file_names_the_field_before_anything_is_sent(tmp_path: Path) -> None:
    config = _gsm8k_config(tmp_path, eval_path=str(tmp_path / "nope.jsonl"))
    with pytest.raises(StarError, match=r"task\.eval_path names .*nope\.jsonl, which is not a file"):
        stage_job(config, tmp_path)


def test_a_small_local_model_travels_and_hub_names_tiny_and_shared_paths_do_not(tmp_path: Path) -> None:
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "weights.safetensors").write_bytes(b"\0" * 1000)
    for name, expected in ((str(model), "model"), ("tiny", "tiny"), ("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B"),
                           ("/mnt/shared/models/big", "/mnt/shared/models/big")):
        staging = tmp_path / f"s{abs(hash(name))}"
        staging.mkdir()
        config = load_config(None, {"model": name, "storage": "/mnt/shared"})
        staged = stage_job(config, staging)
        assert staged.raw_config["model"] == expected
        assert ("model" in staged.copied) == (name == str(model))
    assert (staging.parent / f"s{abs(hash(str(model)))}" / "model" / "weights.safetensors").stat().st_size == 1000


def test_a_model_too_big_to_travel_says_to_use_storage_or_the_hub(tmp_path: Path) -> None:
    model = tmp_path / "big"
    model.mkdir()
    with open(model / "weights.safetensors", "wb") as f:  # sparse: big on paper, nothing on disk
        f.truncate(MODEL_LIMIT_BYTES + 1)
    config = load_config(None, {"model": str(model), "storage": "/mnt/shared"})
    with pytest.raises(StarError, match=r"model .*big is 50 MB, too big to travel.*`storage`.*hub name"):
        stage_job(config, tmp_path / "staging")


def test_a_model_under_storage_is_left_for_the_cluster(tmp_path: Path) -> None:
    cluster_fs = tmp_path / "cluster-fs"
    (cluster_fs / "models" / "m").mkdir(parents=True)
    config = load_config(None, {"model": str(cluster_fs / "models" / "m"), "storage": str(cluster_fs)})
    staging = tmp_path / "staging"
    staging.mkdir()
    staged = stage_job(config, staging)
    assert staged.raw_config["model"] == str(cluster_fs / "models" / "m") and staged.copied == {}


def test_job_env_forwards_star_settings_and_the_hub_token_but_no_local_paths() -> None:
    env = job_env({"STAR_DATABASE_URL": "postgresql://db/star", "HF_TOKEN": "hf_x", "HF_HOME": "/Users/me/hf",
                   "HOME": "/Users/me", "RAY_AUTH_TOKEN": "secret", "PATH": "/bin"}, extra={"HF_HOME": "/mnt/hf"})
    assert env == {"HF_HOME": "/mnt/hf", "HF_TOKEN": "hf_x", "RAY_JOB_STOP_WAIT_TIME_S": "30",
                   "STAR_DATABASE_URL": "postgresql://db/star"}


@pytest.mark.parametrize(("storage", "database", "fix"), [
    ("star_runs", "postgresql://db/star", "storage=/mnt/shared"),
    ("/mnt/shared", None, "STAR_DATABASE_URL"),
    ("/mnt/shared", "sqlite:///star.db", "sqlite:////ABSOLUTE/PATH"),
    ("/mnt/shared", "sqlite://", "sqlite:////ABSOLUTE/PATH"),
])
def test_settings_that_would_leave_results_in_the_jobs_scratch_folder_are_refused(
        storage: str, database: str | None, fix: str) -> None:
    config = load_config(None, {"storage": storage})
    with pytest.raises(StarError, match=fix.replace("(", r"\(")):
        check_cluster_paths(config, database)


def test_shared_storage_with_postgresql_or_an_absolute_sqlite_file_is_fine() -> None:
    config = load_config(None, {"storage": "/mnt/shared"})
    check_cluster_paths(config, "postgresql://star@db:5432/star")
    check_cluster_paths(config, "sqlite:////var/star/star.db")
    assert os.path.isabs(config.storage)


def test_a_storage_uri_is_fine_for_a_job_and_local_models_still_travel(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    config = load_config(None, {"storage": "s3://bucket/star_runs", "model": str(model)})
    check_cluster_paths(config, "postgresql://star@db:5432/star")  # no shared folder needed
    staging = tmp_path / "staging"
    staging.mkdir()
    staged = stage_job(config, staging)
    assert staged.raw_config["storage"] == "s3://bucket/star_runs" and staged.copied == {"model": "model"}
