"""A run's checkpoints in `storage`: a local folder or a URI (star/storage/checkpoints.py).

Round R's checkpoint is `<storage>/<run>/round_R`, and the store records it by
that reference: an absolute path for a local folder, the URI otherwise.

- **Local folder** (today's behaviour, no copy): the trainer writes the
  checkpoint in place and adds the completion marker; engines load the folder.
- **URI** (`s3://`, `gs://`, anything pyarrow.fs or fsspec opens): the trainer
  writes a scratch copy on its node, publishes it (marker last) and deletes
  the scratch; engines and the trainer fetch it into a cache on their own node
  (`checkpoint_cache`) before loading.

Whether a checkpoint exists is asked of the storage (its marker), never of
the driver's disk. Files that must be local (plots, tracking's default files,
verifiers) go to `local_output_dir` when the storage is a URI.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from star.cache_dirs import star_cache
from star.config.storage import is_uri, join, split_reference
from star.storage.checkpoints import fetch as fetch_checkpoint
from star.storage.checkpoints import is_complete, remove

#: where local files of a run go when `storage` is a URI: next to the SQLite file, or in the working directory
LOCAL_FOLDER = "star_runs"


def run_location(storage: str | os.PathLike[str], run_name: str) -> str:
    """Where the run's checkpoints live: `<storage>/<run>`."""
    return join(os.fspath(storage), run_name)


def checkpoint_name(round_index: int) -> str:
    return f"round_{round_index}"


def checkpoint_exists(reference: str) -> bool:
    """Whether the storage holds the complete checkpoint `reference` (a recorded `models.path`).

    A local folder without a marker counts when it holds a model: the trainer
    renames a local checkpoint into place only once whole (star/training/sft.py),
    and runs from before the marker existed have none.
    """
    location, name = split_reference(reference)
    if is_complete(location, name):
        return True
    return not is_uri(reference) and Path(reference, "config.json").is_file()


def cache_root(cache_dir: str | None) -> Path:
    """This node's checkpoint cache: `checkpoint_cache`, else the user cache dir."""
    if cache_dir:
        return Path(cache_dir).expanduser().resolve()
    return star_cache("checkpoints")


def location_cache(cache_dir: str | None, location: str) -> Path:
    """The cache folder of one run location (names like round_1 repeat across runs and storages)."""
    key = hashlib.sha256(location.encode()).hexdigest()[:16]
    return cache_root(cache_dir) / key


def local_checkpoint(model: str, cache_dir: str | None) -> str:
    """The local folder to load `model` from: itself (a path or hub name), or for a URI a verified
    copy fetched into this node's cache (reused while it matches the storage)."""
    if not is_uri(model):
        return model
    location, name = split_reference(model)
    return str(fetch_checkpoint(location, name, location_cache(cache_dir, location)))


def local_output_dir(storage: str, database_url: str | None) -> Path:
    """Where a run's local files go (plots, tracking's default files, verifiers): `storage` itself
    when it is a folder; for a URI, `star_runs` next to the SQLite file, else in the working directory."""
    if not is_uri(storage):
        return Path(storage).expanduser().resolve()
    from db.urls import parse_url, sqlite_path

    sqlite = sqlite_path(parse_url(database_url)) if database_url else None
    return (Path(sqlite).resolve().parent if sqlite else Path.cwd()) / LOCAL_FOLDER


def discard_unrecorded(location: str, name: str, log: Callable[[str], None]) -> None:
    """Remove a checkpoint that a crashed run published but never recorded, so the round's own
    training replaces it (a complete checkpoint is never overwritten by a publish)."""
    if is_complete(location, name) and remove(location, name):
        log(f"{join(location, name)} was published by an interrupted try and never recorded; training it again")


