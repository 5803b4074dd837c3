"""star.storage.checkpoints against a local folder, an fsspec URI (memory://) and a real S3 server (moto)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from star.errors import StarError
from star.storage.checkpoints import MARKER, fetch, is_complete, parse_location, publish, remove


def make_checkpoint(folder: Path, weights: bytes = b"w" * 1000) -> Path:
    """A small checkpoint folder with a nested file, like a saved model with a tokenizer folder."""
    (folder / "tok").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_text('{"layers": 2}')
    (folder / "tok" / "vocab.txt").write_text("a\nb\n")
    return folder


def same_files(a: Path, b: Path) -> bool:
    files = lambda root: {p.relative_to(root).as_posix(): p.read_bytes()  # noqa: E731
                          for p in root.rglob("*") if p.is_file() and p.name != MARKER}
    return files(a) == files(b)


def memory_uri() -> str:
    return f"memory://star-tests/{uuid.uuid4().hex}"  # fsspec's memory store is per process: a fresh prefix


# --- local folder ---------------------------------------------------------------------------------


def test_local_round_trip_returns_the_stored_folder(tmp_path: Path) -> None:
    source = make_checkpoint(tmp_path / "trained")
    storage = tmp_path / "storage"
    assert publish(source, storage, "round-1") is True
    assert is_complete(storage, "round-1")
    assert not is_complete(storage, "round-2")
    got = fetch(storage, "round-1", tmp_path / "cache")
    assert got == storage / "round-1"  # no copy into the cache for a local location
    assert not (tmp_path / "cache").exists()
    assert same_files(source, got)
    manifest = json.loads((got / MARKER).read_text())
    assert manifest["files"] == {"config.json": 13, "model.safetensors": 1000, "tok/vocab.txt": 4}


def test_publish_in_place_only_adds_the_marker(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    written = make_checkpoint(storage / "round-1")
    before = {p: p.stat().st_ino for p in written.rglob("*")}
    assert not is_complete(storage, "round-1")
    assert publish(written, storage, "round-1")
    assert is_complete(storage, "round-1")
    assert {p: p.stat().st_ino for p in written.rglob("*") if p.name != MARKER} == before  # nothing rewritten


def test_folder_without_marker_is_not_complete_and_fetch_refuses_it(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    make_checkpoint(storage / "round-1")
    assert not is_complete(storage, "round-1")
    with pytest.raises(StarError, match=rf"'round-1' in {storage} is not complete \(no _COMPLETE marker\)"):
        fetch(storage, "round-1", tmp_path / "cache")


def test_republishing_a_complete_checkpoint_is_a_no_op(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    publish(make_checkpoint(tmp_path / "first", b"1" * 10), storage, "round-1")
    marker = (storage / "round-1" / MARKER).read_text()
    assert publish(make_checkpoint(tmp_path / "second", b"2" * 20), storage, "round-1") is False
    assert (storage / "round-1" / MARKER).read_text() == marker
    assert (storage / "round-1" / "model.safetensors").read_bytes() == b"1" * 10


def test_publish_clears_an_interrupted_upload(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    (storage / "round-1").mkdir(parents=True)
    (storage / "round-1" / "model.safetensors").write_bytes(b"half")
    (storage / "round-1" / "leftover.bin").write_bytes(b"x")
    source = make_checkpoint(tmp_path / "trained")
    (source / MARKER).write_text("{}")  # a marker in the source folder is not copied as the new one
    assert publish(source, storage, "round-1")
    assert not (storage / "round-1" / "leftover.bin").exists()
    assert same_files(source, storage / "round-1")
    assert json.loads((storage / "round-1" / MARKER).read_text())["files"]["model.safetensors"] == 1000


def test_remove_takes_the_marker_and_the_files_so_a_new_publish_lands(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    publish(make_checkpoint(tmp_path / "first", b"1" * 10), storage, "round-1")
    assert remove(storage, "round-1") is True
    assert not is_complete(storage, "round-1") and not (storage / "round-1").exists()
    assert remove(storage, "round-1") is False  # nothing left
    assert publish(make_checkpoint(tmp_path / "second", b"2" * 20), storage, "round-1") is True
    assert (storage / "round-1" / "model.safetensors").read_bytes() == b"2" * 20


def test_local_fetch_checks_sizes(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    publish(make_checkpoint(tmp_path / "trained"), storage, "round-1")
    (storage / "round-1" / "model.safetensors").write_bytes(b"short")
    with pytest.raises(StarError, match="model.safetensors is 5 bytes, the manifest says 1000"):
        fetch(storage, "round-1", tmp_path / "cache")


def test_locations_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_location("runs").local == tmp_path / "runs"
    assert parse_location(Path("runs")).root == str(tmp_path / "runs")
    file_uri = parse_location(f"file://{tmp_path}/runs/")
    assert file_uri.local == tmp_path / "runs"
    with pytest.raises(StarError, match=r"storage URI 'foo://bucket/x' has an unknown scheme"):
        parse_location("foo://bucket/x")
    with pytest.raises(StarError, match="checkpoint name '../x' is not usable"):
        publish(tmp_path, tmp_path / "storage", "../x")


# --- a remote location through fsspec (memory://): the cache ------------------------------------


def test_remote_fetch_copies_into_the_cache_and_reuses_it(tmp_path: Path) -> None:
    uri, cache = memory_uri(), tmp_path / "cache"
    source = make_checkpoint(tmp_path / "trained")
    assert publish(source, uri, "round-1")
    assert is_complete(uri, "round-1")
    got = fetch(uri, "round-1", cache)
    assert got == cache / "round-1"
    assert same_files(source, got)
    assert [p.name for p in cache.iterdir()] == ["round-1"]  # no partial or stale folders left
    # Reused, not downloaded again: the stored weights can go and the cached copy is still returned.
    location = parse_location(uri)
    location.fs.delete_file(location.join("round-1", "model.safetensors"))
    os.utime(got / "model.safetensors", (1, 1))
    assert fetch(uri, "round-1", cache) == got
    assert (got / "model.safetensors").stat().st_mtime == 1


def test_a_partial_cache_folder_is_not_trusted(tmp_path: Path) -> None:
    uri, cache = memory_uri(), tmp_path / "cache"
    source = make_checkpoint(tmp_path / "trained")
    publish(source, uri, "round-1")
    (cache / "round-1").mkdir(parents=True)  # an interrupted copy: half the weights, no marker
    (cache / "round-1" / "model.safetensors").write_bytes(b"w" * 500)
    got = fetch(uri, "round-1", cache)
    assert same_files(source, got)
    assert sorted(p.name for p in cache.iterdir()) == ["round-1"]


def test_a_replaced_checkpoint_is_fetched_again(tmp_path: Path) -> None:
    uri, cache = memory_uri(), tmp_path / "cache"
    publish(make_checkpoint(tmp_path / "first", b"1" * 10), uri, "round-1")
    fetch(uri, "round-1", cache)
    location = parse_location(uri)
    location.fs.delete_dir(location.join("round-1"))  # deleted in the storage and published again
    second = make_checkpoint(tmp_path / "second", b"2" * 10)  # same sizes: only the publish id differs
    publish(second, uri, "round-1")
    assert same_files(second, fetch(uri, "round-1", cache))


def test_a_failed_download_leaves_no_cache_folder(tmp_path: Path) -> None:
    uri, cache = memory_uri(), tmp_path / "cache"
    publish(make_checkpoint(tmp_path / "trained"), uri, "round-1")
    location = parse_location(uri)
    with location.fs.open_output_stream(location.join("round-1", "model.safetensors")) as out:
        out.write(b"truncated")
    with pytest.raises(StarError, match=f"'round-1' in {uri} does not match its _COMPLETE manifest"):
        fetch(uri, "round-1", cache)
    assert list(cache.iterdir()) == []


# --- a real S3-compatible server (moto) ---------------------------------------------------------


def test_s3_round_trip(s3_bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{s3_bucket}/runs/demo"
    source = make_checkpoint(tmp_path / "trained")
    assert not is_complete(uri, "round-1")
    assert publish(source, uri, "round-1")
    assert is_complete(uri, "round-1")
    assert not is_complete(uri, "round-2")
    got = fetch(uri, "round-1", tmp_path / "cache")
    assert got == tmp_path / "cache" / "round-1"
    assert same_files(source, got)
    import boto3

    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert keys == {f"runs/demo/round-1/{rel}" for rel in
                    ("config.json", "model.safetensors", "tok/vocab.txt", MARKER)}
    assert publish(source, uri, "round-1") is False


def test_s3_remove_then_publish_again_is_fetched_anew(s3_bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{s3_bucket}/runs"
    publish(make_checkpoint(tmp_path / "first", b"1" * 10), uri, "round-1")
    first = fetch(uri, "round-1", tmp_path / "cache")
    assert remove(uri, "round-1") is True
    assert not is_complete(uri, "round-1")
    import boto3

    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    assert [k for k in keys if not k.endswith("/")] == [], keys  # pyarrow may keep an empty "runs/" folder key
    publish(make_checkpoint(tmp_path / "second", b"2" * 20), uri, "round-1")
    again = fetch(uri, "round-1", tmp_path / "cache")  # the cached copy's publish id is stale
    assert again == first and (again / "model.safetensors").read_bytes() == b"2" * 20


def test_s3_half_written_checkpoint_is_not_complete(s3_bucket: str, tmp_path: Path) -> None:
    import boto3

    client = boto3.client("s3")
    client.put_object(Bucket=s3_bucket, Key="runs/round-1/model.safetensors", Body=b"w" * 1000)
    client.put_object(Bucket=s3_bucket, Key="runs/round-1/config.json", Body=b"{}")
    uri = f"s3://{s3_bucket}/runs"
    assert not is_complete(uri, "round-1")
    with pytest.raises(StarError, match=f"'round-1' in {uri} is not complete"):
        fetch(uri, "round-1", tmp_path / "cache")
    assert not (tmp_path / "cache" / "round-1").exists()
    # Publishing it properly replaces the half-written files and marks it complete.
    source = make_checkpoint(tmp_path / "trained")
    publish(source, uri, "round-1")
    assert same_files(source, fetch(uri, "round-1", tmp_path / "cache"))


def test_s3_missing_bucket_is_named(s3_bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{s3_bucket}-missing/runs"
    with pytest.raises(StarError, match=rf"storage {uri}: bucket '{s3_bucket}-missing' does not exist"):
        is_complete(uri, "round-1")
    with pytest.raises(StarError, match="does not exist"):
        publish(make_checkpoint(tmp_path / "trained"), uri, "round-1")


def test_s3_unreachable_endpoint_is_named(s3_bucket: str, free_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port}")  # nothing listens there
    uri = f"s3://{s3_bucket}/runs"
    with pytest.raises(StarError, match=rf"cannot look for checkpoint 'round-1' in storage {uri}: "
                                        "the storage endpoint cannot be reached"):
        is_complete(uri, "round-1")


def test_s3_refused_credentials_are_named(moto_server_with_auth: "S3Server", monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000"), ("AWS_SECRET_ACCESS_KEY", "wrong"),
                        ("AWS_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", moto_server_with_auth.endpoint),
                        ("AWS_EC2_METADATA_DISABLED", "true")):
        monkeypatch.setenv(name, value)
    with pytest.raises(StarError, match=r"storage s3://star-auth/runs: the credentials are missing or refused"):
        is_complete("s3://star-auth/runs", "round-1")
