"""Resuming a run: which config fields must match the stored one.

A run's rounds only make sense together if every round used the same task,
model, sampling, filter and training recipe, so a resumed run must not change
them. Fields that only say how much, where or with what resources the work
runs may change freely on resume.
"""

from __future__ import annotations

from typing import Any

from star.config import StarConfig, validate_config
from star.errors import ConfigError

# Dotted prefixes of the fields that change what a round produces. Everything
# else (rounds, run_name, database, storage, checkpoint_cache, ray_address, generators.count,
# gpus_per_generator, gpu_memory_utilization, cpu_kv_cache_gb, enforce_eager,
# trainer.*, checker.workers, store.*, lease.*) may differ on resume.
RESULT_FIELDS: tuple[str, ...] = (
    "task", "model", "seed", "accept", "sampling", "rationalization", "training", "evaluation",
    "checker.timeout",  # a longer timeout turns `timeout` verdicts into correct/incorrect ones
    "checker.recheck_timeout",  # so does a longer re-check of the timed-out ones
    "generators.dtype",  # numerics of the samples
    "generators.max_model_len",  # truncates long prompts + rationales
)

# Inside a result prefix, but only trade memory for time: the same examples per optimizer step
# (micro-batches are accumulated) and the same gradients (checkpointing recomputes activations).
# A resumed run that ran out of GPU memory may lower them.
MEMORY_FIELDS: tuple[str, ...] = ("training.micro_batch_size", "training.gradient_checkpointing")


def stored_config(raw: dict[str, Any], run_name: str) -> StarConfig:
    """The config a run was created with, validated like a config file."""
    return validate_config(raw, source=f"the stored config of run {run_name!r}")


def result_differences(stored: StarConfig, given: StarConfig) -> list[str]:
    """Dotted names of the result fields whose values differ, sorted."""
    old, new = _leaves(stored.model_dump(mode="json")), _leaves(given.model_dump(mode="json"))
    changed = {key for key in old.keys() | new.keys() if old.get(key, _ABSENT) != new.get(key, _ABSENT)}
    return sorted(key for key in changed if _is_result_field(key))


def check_resumable(stored: StarConfig, given: StarConfig, run_name: str) -> None:
    """Refuse a config that would change the results of an existing run."""
    fields = result_differences(stored, given)
    if not fields:
        return
    shown = ", ".join(f"{f} ({_value(stored, f)!r} -> {_value(given, f)!r})" for f in fields)
    raise ConfigError(
        f"run {run_name!r} was created with a different config; these fields change results and must "
        f"match the stored config: {shown}; resume with `star run --resume {run_name}` (no CONFIG: the "
        "stored config is used), or start a new run with another --run-name"
    )


_ABSENT = object()


def _is_result_field(dotted: str) -> bool:
    if dotted in MEMORY_FIELDS:
        return False
    return any(dotted == p or dotted.startswith(p + ".") for p in RESULT_FIELDS)


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _value(config: StarConfig, dotted: str) -> Any:
    return _leaves(config.model_dump(mode="json")).get(dotted, "<absent>")
