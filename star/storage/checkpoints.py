"""Checkpoint storage: publish a finished checkpoint folder to a location, fetch it back.

A location is a local folder (str or Path; a relative one is made absolute) or
a URI: `s3://bucket/prefix`, `gs://bucket/prefix`, `file:///abs/path`, or any
scheme fsspec knows (`memory://`, `az://` with adlfs, ...). A checkpoint NAME
lives at `<location>/<NAME>/`.

Guarantees:
- **Complete means marked.** `publish` uploads every file first and writes
  `<NAME>/_COMPLETE` (a JSON manifest: file names, sizes, a publish id) last,
  so a reader never trusts a half-uploaded checkpoint. `is_complete` looks at
  that marker only, in the storage itself, never at the driver's disk.
- **A complete checkpoint is immutable.** Publishing a name that is already
  complete is a no-op (returns False). Engines cache checkpoints by name, so
  overwriting one would leave nodes serving different weights under one name;
  to replace a checkpoint, `remove` it and publish again (a fetch then sees a
  new publish id and downloads it again).
- **Fetch is atomic.** A remote checkpoint is downloaded into a temporary
  sibling of `<cache_dir>/<NAME>`, checked against the manifest's sizes, and
  renamed into place with the manifest beside it. A cached copy is reused only
  when its manifest equals the storage's; a folder without one (an interrupted
  copy) is replaced. A local location is never copied: fetch returns the
  checkpoint's own folder.

S3 settings come from the usual AWS variables, read by pyarrow's S3 client
itself: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE),
AWS_REGION, and AWS_ENDPOINT_URL for an S3-compatible server (pyarrow >= 15
honours it; checked against moto with pyarrow 26). GCS uses
GOOGLE_APPLICATION_CREDENTIALS.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.fs as pafs

from star.errors import StarError

MARKER = "_COMPLETE"
_MANIFEST_VERSION = 1
_LOCAL = pafs.LocalFileSystem()


@dataclass(frozen=True)
class Location:
    """Where checkpoints live: a pyarrow file system and the folder inside it."""

    uri: str  # as the user wrote it (made absolute for local paths), for messages
    fs: pafs.FileSystem
    root: str  # the folder inside `fs`, without a trailing slash
    local: Path | None  # the same folder on this machine's disk, for a local location

    def join(self, *parts: str) -> str:
        return "/".join([self.root, *parts]) if self.root else "/".join(parts)


def parse_location(location: str | os.PathLike[str]) -> Location:
    """A local path or a URI as a Location; an unknown scheme or missing driver is a StarError."""
    text = os.fspath(location)
    if "://" not in text:
        path = Path(text).expanduser().resolve()
        return Location(str(path), _LOCAL, str(path), path)
    try:
        fs, root = pafs.FileSystem.from_uri(text)
    except pa.ArrowInvalid as exc:
        if "Unrecognized filesystem type" not in str(exc):
            raise StarError(f"storage URI {text!r} is not valid: {exc}") from exc
        fs, root = _fsspec_filesystem(text)
    except (OSError, pa.ArrowException) as exc:
        raise _storage_error(text, "open", exc) from exc
    root = root.rstrip("/")
    local = Path(root) if isinstance(fs, pafs.LocalFileSystem) else None
    return Location(text, fs, root, local)


def _fsspec_filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """A scheme pyarrow does not know, through fsspec (wrapped so the rest of the module sees one API)."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(uri)
    except ValueError as exc:
        raise StarError(f"storage URI {uri!r} has an unknown scheme ({exc}); use a local path, "
                        "s3://, gs://, file:// or a scheme fsspec knows") from exc
    except ImportError as exc:
        raise StarError(f"storage URI {uri!r} needs a package that is not installed: {exc}") from exc
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), root


def publish(local_dir: str | os.PathLike[str], location: str | os.PathLike[str] | Location, name: str) -> bool:
    """Upload the finished checkpoint folder `local_dir` to `<location>/<name>/`, then mark it complete.

    Returns False (and uploads nothing) when `name` is already complete there.
    Leftovers of an interrupted publish are removed first.
    """
    _check_name(name)
    source = Path(local_dir).resolve()
    if not source.is_dir():
        raise StarError(f"cannot publish checkpoint {name!r}: {source} is not a folder")
    loc = location if isinstance(location, Location) else parse_location(location)
    if is_complete(loc, name):
        return False
    files = _scan(source)
    if not files:
        raise StarError(f"cannot publish checkpoint {name!r}: {source} holds no files")
    with _errors(loc, f"publish checkpoint {name!r} to"):
        if loc.local is None or source != loc.local / name:  # in place: only the marker is missing
            _replace_with(loc, name, source, files)
        _write_marker(loc, name, {"version": _MANIFEST_VERSION, "name": name, "id": uuid.uuid4().hex,
                                  "files": files})
    return True


def is_complete(location: str | os.PathLike[str] | Location, name: str) -> bool:
    """Whether `<location>/<name>` carries the completion marker (files without one do not count)."""
    loc = location if isinstance(location, Location) else parse_location(location)
    with _errors(loc, f"look for checkpoint {name!r} in"):
        if loc.fs.get_file_info(loc.join(name, MARKER)).type == pafs.FileType.File:
            return True
        _check_bucket(loc)
    return False


def fetch(location: str | os.PathLike[str] | Location, name: str, cache_dir: str | os.PathLike[str]) -> Path:
    """A local folder holding the complete checkpoint `name`: the stored one itself for a local
    location, otherwise a verified copy under `cache_dir` (reused while it matches the storage)."""
    _check_name(name)
    loc = location if isinstance(location, Location) else parse_location(location)
    manifest = _read_manifest(loc, name)
    if loc.local is not None:
        _verify(loc.local / name, manifest, loc, name)
        return loc.local / name
    target = Path(cache_dir).resolve() / name
    if _cached_manifest(target) == manifest:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=target.parent))
    try:
        _download(loc, name, manifest, partial)
        _put_in_place(partial, target, manifest)
    finally:
        shutil.rmtree(partial, ignore_errors=True)  # gone already when the rename succeeded
    return target


def remove(location: str | os.PathLike[str] | Location, name: str) -> bool:
    """Delete checkpoint `name` from the storage; whether anything was there.

    The marker goes first, so a reader never sees a complete checkpoint with
    files missing. For replacing a checkpoint that a crashed run published but
    never recorded (a fetch then sees the new publish id and downloads again).
    """
    _check_name(name)
    loc = location if isinstance(location, Location) else parse_location(location)
    with _errors(loc, f"remove checkpoint {name!r} from"):
        marker, folder = loc.join(name, MARKER), loc.join(name)
        found = loc.fs.get_file_info(marker).type == pafs.FileType.File
        if found:
            loc.fs.delete_file(marker)
        if loc.fs.get_file_info(folder).type == pafs.FileType.Directory:
            loc.fs.delete_dir(folder)
            found = True
    return found


def _check_name(name: str) -> None:
    # One path component: a name with "/" or ".." would write outside <location>/ and the cache.
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise StarError(f"checkpoint name {name!r} is not usable: use one folder name without '/' "
                        "that does not start with '.'")


def _scan(folder: Path) -> dict[str, int]:
    """Relative POSIX path -> size of every file under `folder` (a stale marker is not a file of it)."""
    files = {p.relative_to(folder).as_posix(): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}
    files.pop(MARKER, None)
    return files


def _replace_with(loc: Location, name: str, source: Path, files: dict[str, int]) -> None:
    """Empty `<location>/<name>` (an interrupted publish may have left files) and upload `files`."""
    target = loc.join(name)
    if loc.fs.get_file_info(target).type == pafs.FileType.Directory:
        loc.fs.delete_dir_contents(target)
    for rel in files:  # file by file, so that a marker in `source` is never copied before the end
        if not _object_store(loc):  # object stores have no folders (pyarrow would add empty "dir/" keys)
            parent = str(PurePosixPath(rel).parent)
            loc.fs.create_dir(loc.join(name) if parent == "." else loc.join(name, parent), recursive=True)
        pafs.copy_files(str(source / rel), loc.join(name, rel),
                        source_filesystem=_LOCAL, destination_filesystem=loc.fs)


def _write_marker(loc: Location, name: str, manifest: dict) -> None:
    # A reader must never see half a JSON file. An object store's PUT is atomic; elsewhere the
    # marker is written beside its place and renamed onto it (a rename is atomic on a local or NFS
    # folder). Not on S3: there a move is copy + delete, and pyarrow adds an empty "dir/" key.
    data = json.dumps(manifest, sort_keys=True).encode()
    final = loc.join(name, MARKER)
    temporary = final if _object_store(loc) else loc.join(name, f".{MARKER}.{uuid.uuid4().hex}")
    with loc.fs.open_output_stream(temporary) as out:
        out.write(data)
    if temporary != final:
        loc.fs.move(temporary, final)


def _read_manifest(loc: Location, name: str) -> dict:
    with _errors(loc, f"read checkpoint {name!r} from"):
        try:
            with loc.fs.open_input_stream(loc.join(name, MARKER)) as stream:
                raw = stream.read()
        except FileNotFoundError:
            _check_bucket(loc)
            raise StarError(f"checkpoint {name!r} in {loc.uri} is not complete (no {MARKER} marker): it was "
                            "never published or its upload was interrupted; publish it again, or check the "
                            "storage location and the checkpoint name") from None
    try:
        manifest = json.loads(raw)
        files = manifest["files"]
        if not all(isinstance(size, int) and _safe_relative(rel) for rel, size in files.items()):
            raise ValueError("bad file entry")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StarError(f"checkpoint {name!r} in {loc.uri} has an unreadable {MARKER} manifest ({exc}); "
                        "delete the checkpoint there and publish it again") from exc
    return manifest


def _safe_relative(rel: str) -> bool:
    path = PurePosixPath(rel)
    return bool(rel) and not path.is_absolute() and ".." not in path.parts


def _cached_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _download(loc: Location, name: str, manifest: dict, into: Path) -> None:
    with _errors(loc, f"download checkpoint {name!r} from"):
        for rel in manifest["files"]:
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            pafs.copy_files(loc.join(name, rel), str(into / rel),
                            source_filesystem=loc.fs, destination_filesystem=_LOCAL)
    _verify(into, manifest, loc, name)
    (into / MARKER).write_text(json.dumps(manifest, sort_keys=True))


def _verify(folder: Path, manifest: dict, loc: Location, name: str) -> None:
    """Every file the manifest names is in `folder` with the size it names."""
    for rel, size in manifest["files"].items():
        path = folder / rel
        found = path.stat().st_size if path.is_file() else None
        if found != size:
            raise StarError(f"checkpoint {name!r} in {loc.uri} does not match its {MARKER} manifest: {rel} "
                            f"is {'missing' if found is None else f'{found} bytes'}, the manifest says {size} "
                            "bytes; the storage was changed after publishing: delete the checkpoint there "
                            "and publish it again")


def _put_in_place(partial: Path, target: Path, manifest: dict) -> None:
    """Rename the verified download onto `target`; a stale or partial copy there is set aside first."""
    if _cached_manifest(target) == manifest:
        return  # another fetcher on this node finished the same checkpoint meanwhile
    if target.exists():
        stale = target.with_name(f".{target.name}.stale-{uuid.uuid4().hex}")
        try:
            target.rename(stale)
        except FileNotFoundError:
            pass  # another fetcher set it aside first
        shutil.rmtree(stale, ignore_errors=True)
    try:
        partial.rename(target)
    except OSError:
        # Another fetcher on this node renamed its own copy first: fine if it is this checkpoint.
        if _cached_manifest(target) != manifest:
            raise


def _check_bucket(loc: Location) -> None:
    """On S3 / GCS a missing bucket reads as "no marker"; say so instead of reporting "not complete"."""
    if not _object_store(loc):
        return
    bucket = loc.root.split("/", 1)[0]
    if loc.fs.get_file_info(bucket).type == pafs.FileType.NotFound:
        raise StarError(f"storage {loc.uri}: bucket {bucket!r} does not exist (or these credentials cannot "
                        "see it); create it, or fix the storage URI")


def _object_store(loc: Location) -> bool:
    return loc.fs.type_name in ("s3", "gcs")


@contextmanager
def _errors(loc: Location, action: str) -> Iterator[None]:
    """File-system failures as one StarError naming the location and the likely fix."""
    try:
        yield
    except StarError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise _storage_error(loc.uri, action, exc) from exc


_HINTS = (
    (("NETWORK_CONNECTION", "Could not connect", "Could not resolve", "Connection refused"),
     "the storage endpoint cannot be reached: check the network and AWS_ENDPOINT_URL (for an "
     "S3-compatible server)"),
    (("NO_SUCH_BUCKET", "bucket does not exist", "NoSuchBucket"),
     "the bucket does not exist: create it, or fix the storage URI"),
    (("ACCESS_DENIED", "InvalidAccessKeyId", "SignatureDoesNotMatch", "credentials", "Forbidden", "403"),
     "the credentials are missing or refused: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
     "AWS_PROFILE) for s3://, GOOGLE_APPLICATION_CREDENTIALS for gs://, with access to this location"),
)


def _storage_error(uri: str, action: str, exc: BaseException) -> StarError:
    text = str(exc)
    hint = next((fix for marks, fix in _HINTS if any(mark in text for mark in marks)), "check the storage location")
    return StarError(f"cannot {action} storage {uri}: {hint} ({type(exc).__name__}: {text.splitlines()[0]})")
