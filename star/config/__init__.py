"""The run config: one typed, validated object loaded from YAML, with a help text per field.

run.py holds `StarConfig` and its sections; tasks.py the task sections; tracking.py
the `tracking:` section; storage.py the form of a `storage` value. Config is a
foundation: it imports nothing of star's rooms, and every room may read it.
"""

from star.config.run import (
    COLOCATE_MAX_GPU_UTILIZATION,
    TINY_MODEL,
    CheckerConfig,
    EvaluationConfig,
    GeneratorsConfig,
    LeaseConfig,
    RationalizationConfig,
    RecoveryConfig,
    SamplingConfig,
    StarConfig,
    StoreConfig,
    TrainerConfig,
    TrainingConfig,
    colocate_problem,
    embedded_default,
    field_help,
    load_config,
    set_dotted,
    validate_config,
)

__all__ = [
    "COLOCATE_MAX_GPU_UTILIZATION", "TINY_MODEL", "CheckerConfig", "EvaluationConfig", "GeneratorsConfig",
    "LeaseConfig", "RationalizationConfig", "RecoveryConfig", "SamplingConfig", "StarConfig", "StoreConfig",
    "TrainerConfig", "TrainingConfig", "colocate_problem", "embedded_default", "field_help", "load_config",
    "set_dotted", "validate_config",
]
