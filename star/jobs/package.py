"""What a star job carries: the config and every local file it names, in a runtime_env.

A job must not depend on the submitting machine's file system. So the config
is written into a staging folder that becomes the job's `working_dir` (Ray
zips it, uploads it to the head and unpacks it on every node the job uses),
and every local file the config names is copied in next to it, with the
config's path rewritten relative to that folder. The job's driver and actors
run with the unpacked folder as their current directory, so the relative
paths resolve on whichever node they land.

Files under the config's `storage` folder are left alone: storage is, by
definition, mounted on every node, which is also where models and data too
big to travel belong.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from star.config import TINY_MODEL, StarConfig
from star.config.storage import is_uri
from star.jobs.errors import JobError

CONFIG_NAME = "star_job.yaml"
MODEL_LIMIT_BYTES = 50 * 1024**2  # a model folder bigger than this goes on shared storage or the hub
PACKAGE_LIMIT_BYTES = 90 * 1024**2  # Ray's job server takes uploads up to 100 MiB
# Task fields that name local files (DatasetTaskConfig and its subclasses).
TASK_FILE_FIELDS = ("train_path", "eval_path", "shots_path", "prompt_template", "hint_template")
# Environment the job gets from the submitting shell: star's own settings and the hub token.
FORWARDED_ENV = ("HF_TOKEN",)
FORWARDED_ENV_PREFIX = "STAR_"
# Ray's job stop sends SIGTERM, then SIGKILL after this many seconds (Ray's default: 3). The
# driver uses the time to stop its workers and record the run as stopped; one that is done
# sooner ends the wait sooner.
STOP_GRACE = {"RAY_JOB_STOP_WAIT_TIME_S": "30"}


@dataclass(frozen=True)
class StagedJob:
    working_dir: Path
    config_file: str  # relative to working_dir
    raw_config: dict[str, Any]  # the config as the job will load it
    copied: dict[str, str]  # config field -> path inside working_dir


def stage_job(config: StarConfig, staging: Path, *, source: str = "the embedded default") -> StagedJob:
    """Write the config and the local files it names into `staging` (an empty folder)."""
    raw = config.model_dump(mode="json")
    shared = _shared_root(config)
    copied: dict[str, str] = {}
    task = raw["task"]
    for field in TASK_FILE_FIELDS:
        value = task.get(field)
        if value is None or _under(Path(value), shared):
            continue
        relative = _copy_file(Path(value), staging, f"data/{field}", f"task.{field}")
        task[field] = copied[f"task.{field}"] = relative
    if _is_local_model(config.model, shared):
        raw["model"] = copied["model"] = _copy_model(Path(config.model).expanduser(), staging)
    _check_package_size(staging)
    header = _header(source, copied, config)
    (staging / CONFIG_NAME).write_text(header + yaml.safe_dump(raw, sort_keys=False))
    return StagedJob(working_dir=staging, config_file=CONFIG_NAME, raw_config=raw, copied=copied)


def job_env(environ: dict[str, str] | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """env_vars for the job: STAR_* (the store URL among them) and HF_TOKEN from this shell, plus `extra`.

    Paths such as HF_HOME are *not* forwarded: they name this machine's disk.
    Nor is the Ray auth token: the cluster has its own, and a runtime_env is
    visible to everyone who can list jobs.
    """
    environ = os.environ if environ is None else environ
    env = dict(STOP_GRACE)
    env.update({k: v for k, v in environ.items() if k.startswith(FORWARDED_ENV_PREFIX) or k in FORWARDED_ENV})
    env.update(extra or {})
    return dict(sorted(env.items()))


def runtime_env(staged: StagedJob, env_vars: dict[str, str]) -> dict[str, Any]:
    return {"working_dir": str(staged.working_dir), "env_vars": env_vars}


def check_cluster_paths(config: StarConfig, database_url: str | None) -> None:
    """Refuse settings that would put a job's results on the job's own scratch folder."""
    if not is_uri(config.storage) and not Path(config.storage).expanduser().is_absolute():
        raise JobError(f"`storage` is {config.storage!r}, a relative path: on a cluster it would land in "
                       "the job's scratch folder; set it to a folder every node mounts, e.g. "
                       "--set storage=/mnt/shared/star_runs")
    if database_url is None:
        raise JobError("a job needs a store the cluster can reach: set `database` in the config, "
                       "--set database=postgresql://USER@HOST/DB, or $STAR_DATABASE_URL")
    from db.urls import parse_url, sqlite_path

    url = parse_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is None or not Path(path).is_absolute():
            raise JobError(f"database {database_url!r} is an in-memory or relative SQLite file, which "
                           "would live in the job's scratch folder; use PostgreSQL or sqlite:////ABSOLUTE/PATH "
                           "on the head's disk")


def _shared_root(config: StarConfig) -> Path | None:
    if is_uri(config.storage):
        return None  # object storage: no folder that every node mounts
    storage = Path(config.storage).expanduser()
    return storage if storage.is_absolute() else None


def _under(path: Path, root: Path | None) -> bool:
    return root is not None and path.expanduser().is_relative_to(root)


def _is_local_model(model: str, shared: Path | None) -> bool:
    """A model that exists on this machine travels; 'tiny', hub names and shared paths do not."""
    if model == TINY_MODEL:
        return False
    path = Path(model).expanduser()
    return path.exists() and not _under(path.absolute(), shared)


def _copy_file(source: Path, staging: Path, folder: str, field: str) -> str:
    if not source.is_file():
        raise JobError(f"{field} names {source}, which is not a file on this machine; star submit sends "
                       "the files a config names with the job: fix the path (or put the file under "
                       "`storage`, which every node mounts, and name it there)")
    target = staging / folder / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target.relative_to(staging).as_posix()


def _copy_model(source: Path, staging: Path) -> str:
    size = _size(source)
    if size > MODEL_LIMIT_BYTES:
        raise JobError(f"model {source} is {size / 1024**2:.0f} MB, too big to travel with the job "
                       f"(limit {MODEL_LIMIT_BYTES // 1024**2} MB); put it under `storage` (mounted on "
                       "every node) and name it there, or use its hub name")
    target = staging / "model"
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False)  # HF caches are symlink farms: copy the blobs
    else:
        target.mkdir()
        shutil.copyfile(source, target / source.name)
        return f"model/{source.name}"
    return "model"


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _check_package_size(staging: Path) -> None:
    size = _size(staging)
    if size > PACKAGE_LIMIT_BYTES:
        raise JobError(f"the files this config names add up to {size / 1024**2:.0f} MB, more than a job "
                       f"can carry ({PACKAGE_LIMIT_BYTES // 1024**2} MB); put the big ones under `storage` "
                       "(mounted on every node) and name them there, or use a hub dataset")


def _header(source: str, copied: dict[str, str], config: StarConfig) -> str:
    lines = [f"# Staged by `star submit` from {source}; local files travel with the job:"]
    originals = {"model": config.model, **{f"task.{f}": getattr(config.task, f, None) for f in TASK_FILE_FIELDS}}
    lines += [f"#   {field}: {originals[field]} -> {relative}" for field, relative in copied.items()]
    return "\n".join(lines) + "\n"
