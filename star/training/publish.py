"""In the trainer: fetch a URI init model, train, publish the checkpoint to the run's storage (marker last)."""

from __future__ import annotations

import shutil
from dataclasses import replace

from star.config.storage import is_uri, join
from star.storage.checkpoints import publish
from star.storage.runs import local_checkpoint, location_cache
from star.training.sft import train_sft
from star.training.spec import TrainResult, TrainSpec


def train_and_publish(spec: TrainSpec) -> TrainResult:
    """In the trainer actor: fetch a URI init model, train, publish the checkpoint (marker last).

    The result's output_dir is the checkpoint's reference in storage.
    """
    target = spec.publish
    if target is None:
        return train_sft(spec, progress=False)
    reference = join(target.location, target.name)
    remote = is_uri(target.location)
    # A URI location: train into a scratch folder on this node; a local one is written in place.
    out = location_cache(target.cache_dir, target.location) / "scratch" / target.name if remote else reference
    spec = replace(spec, init_model=local_checkpoint(spec.init_model, target.cache_dir), output_dir=str(out))
    result = train_sft(spec, progress=False)
    if spec.rank != 0:
        return replace(result, output_dir=reference)  # rank 0 of a worker group saves and publishes
    # False: an earlier try of this call published first (the actor died after it); that copy stays.
    publish(result.output_dir, target.location, target.name)
    if remote:
        shutil.rmtree(out, ignore_errors=True)  # the storage holds it now; engines fetch their own copy
    return replace(result, output_dir=reference)
