"""`storage` as the user writes it: a local folder or a URI. Parsing only: no pyarrow, no network,
so the config can validate it on import (star/storage/checkpoints.py opens it)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

#: pyarrow.fs's own schemes; fsspec's registry adds the rest
_PYARROW_SCHEMES = frozenset({"file", "s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss"})
#: fsspec's memory:// lives inside one process: the trainer would publish where no engine can read
_PRIVATE_SCHEMES = frozenset({"memory"})
_BUCKET_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs"})
_SCHEME_WITHOUT_SLASHES = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):(?!//)")


def is_uri(storage: str | os.PathLike[str]) -> bool:
    return "://" in os.fspath(storage)


def storage_problem(storage: str) -> str | None:
    """Why `storage` cannot hold a run's checkpoints (for config validation, no network), or None.

    Only the form is checked here; a missing bucket or refused credentials show when the run starts."""
    if not storage.strip():
        return "it is empty; give a folder or a URI such as s3://bucket/prefix"
    if not is_uri(storage):
        missing = _SCHEME_WITHOUT_SLASHES.match(storage)
        if missing and missing.group(1).lower() in _known_schemes():
            return f"it looks like a URI without '//'; write {missing.group(1)}://{storage[missing.end():].lstrip('/')}"
        return None
    parts = urlsplit(storage)
    scheme = parts.scheme.lower()
    if scheme in _PRIVATE_SCHEMES:
        return (f"{scheme}:// lives inside one process, and the trainer and the engines run in "
                "others; use a shared folder or an object store such as s3://bucket/prefix")
    if scheme not in _known_schemes():
        return (f"unknown scheme {scheme!r}; use a local folder, s3://, gs://, file:// or a scheme "
                "fsspec knows (with its package installed, e.g. adlfs for az://)")
    if scheme in _BUCKET_SCHEMES and not parts.netloc:
        return f"it names no bucket; write {scheme}://BUCKET/PREFIX"
    return None


def _known_schemes() -> frozenset[str]:
    try:
        from fsspec.registry import known_implementations
    except ImportError:  # fsspec is optional: pyarrow's schemes still work
        return _PYARROW_SCHEMES
    return _PYARROW_SCHEMES | frozenset(known_implementations)


def join(location: str, *parts: str) -> str:
    """`location/part/...`: a path for a local folder (made absolute), a URI (query kept) otherwise."""
    if not is_uri(location):
        return str(Path(location).expanduser().resolve().joinpath(*parts))
    split = urlsplit(location)
    return urlunsplit(split._replace(path="/".join([split.path.rstrip("/"), *parts])))


def split_reference(reference: str) -> tuple[str, str]:
    """A recorded checkpoint reference as (location, name)."""
    if not is_uri(reference):
        path = Path(reference)
        return str(path.parent), path.name
    split = urlsplit(reference)
    parent, _, name = split.path.rstrip("/").rpartition("/")
    return urlunsplit(split._replace(path=parent)), name
