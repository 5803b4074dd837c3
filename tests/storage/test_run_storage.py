"""star.storage.runs: a run's checkpoint references, the existence decision and local folders,
on a local folder and a real moto S3 server."""

from __future__ import annotations

from pathlib import Path

import pytest

from star.config.storage import join, split_reference
from star.storage.checkpoints import MARKER, is_complete, publish
from star.storage.runs import (
    checkpoint_exists,
    discard_unrecorded,
    local_checkpoint,
    local_output_dir,
    location_cache,
    run_location,
)


def make_checkpoint(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"layers": 2}')
    (folder / "model.safetensors").write_bytes(b"w" * 100)
    return folder


@pytest.mark.parametrize("location", [
    "s3://bucket/prefix/run", "s3://bucket/run?endpoint_override=127.0.0.1:9000&scheme=http",
    "gs://bucket/a/b", "file:///tmp/runs/run",
])
def test_uri_references_split_back_into_location_and_name(location: str) -> None:
    reference = join(location, "round_3")
    assert split_reference(reference) == (location, "round_3")
    assert "round_3" in reference.split("?")[0]  # the name goes into the path, not after the query


def test_a_local_storage_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    location = run_location("star_runs", "r1")
    assert location == str(tmp_path / "star_runs" / "r1")
    assert split_reference(join(location, "round_1")) == (location, "round_1")
    assert run_location("s3://bucket/prefix/", "r1") == "s3://bucket/prefix/r1"


def test_local_existence_is_the_marker_or_a_whole_model_folder(tmp_path: Path) -> None:
    location = tmp_path / "runs" / "r1"
    published = make_checkpoint(location / "round_1")
    publish(published, location, "round_1")  # in place: only the marker is added
    assert checkpoint_exists(str(published))
    legacy = make_checkpoint(location / "round_2")  # written before markers existed
    assert checkpoint_exists(str(legacy)) and not is_complete(location, "round_2")
    (location / "round_3").mkdir()
    assert not checkpoint_exists(str(location / "round_3"))
    assert not checkpoint_exists(str(location / "round_4"))


def test_s3_existence_is_asked_of_the_bucket_not_the_cache(s3_bucket: str, tmp_path: Path) -> None:
    location = f"s3://{s3_bucket}/runs/r1"
    reference = join(location, "round_1")
    assert not checkpoint_exists(reference)
    publish(make_checkpoint(tmp_path / "trained"), location, "round_1")
    assert checkpoint_exists(reference)
    cache = str(tmp_path / "cache")
    fetched = Path(local_checkpoint(reference, cache))
    assert fetched == location_cache(cache, location) / "round_1" and (fetched / MARKER).is_file()
    import boto3

    boto3.client("s3").delete_object(Bucket=s3_bucket, Key="runs/r1/round_1/_COMPLETE")
    assert not checkpoint_exists(reference)  # the cached copy does not count
    assert local_checkpoint("/models/base", cache) == "/models/base"  # paths and hub names are not fetched
    assert local_checkpoint("org/model", cache) == "org/model"


def test_same_round_names_of_two_storages_are_cached_apart(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    assert location_cache(cache, "s3://a/runs/r1") != location_cache(cache, "s3://b/runs/r1")


def test_an_unrecorded_published_checkpoint_is_discarded(s3_bucket: str, tmp_path: Path) -> None:
    location = f"s3://{s3_bucket}/runs/r1"
    logged: list[str] = []
    discard_unrecorded(location, "round_1", logged.append)
    assert logged == []  # nothing there: nothing to say
    publish(make_checkpoint(tmp_path / "trained"), location, "round_1")
    discard_unrecorded(location, "round_1", logged.append)
    assert not is_complete(location, "round_1")
    assert logged == [f"{location}/round_1 was published by an interrupted try and never recorded; "
                      "training it again"]


def test_local_files_of_a_remote_storage_go_next_to_the_sqlite_file(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert local_output_dir("runs", "sqlite:///x/star.db") == tmp_path / "runs"  # a folder is its own
    assert local_output_dir("s3://b/p", f"sqlite:///{tmp_path}/db/star.db") == tmp_path / "db" / "star_runs"
    assert local_output_dir("s3://b/p", "postgresql://u@h/star") == tmp_path / "star_runs"


def test_star_run_preflight_reads_the_bucket_before_starting_workers(s3_bucket: str) -> None:
    from star.run.preflight import ClusterError, check_storage_reachable

    check_storage_reachable(f"s3://{s3_bucket}/runs")  # there and readable: nothing to say
    with pytest.raises(ClusterError, match=f"bucket '{s3_bucket}-gone' does not exist .*fix `storage`"):
        check_storage_reachable(f"s3://{s3_bucket}-gone/runs")
