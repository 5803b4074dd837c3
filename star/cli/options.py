"""Command-line parsing shared by commands that take a run config (`star run`, `star submit`)."""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from star.errors import ConfigError


def parse_sets(sets: Iterable[str]) -> dict[str, object]:
    """`--set FIELD=VALUE` items -> {dotted field: value}; values are read as YAML (0.7, true, [a])."""
    overrides: dict[str, object] = {}
    for item in sets:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise ConfigError(f"--set {item!r} needs FIELD=VALUE, e.g. --set sampling.temperature=0.7")
        overrides[field.strip()] = yaml.safe_load(value)
    return overrides
