"""Deterministic deduplication, held-out splits and samples.

Every choice ranks examples by a seeded hash of their content instead of
shuffling a list, so the result depends only on the seed and on which problems
exist, not on file order: adding rows to a file leaves earlier choices mostly
unchanged. Selected examples are returned in file order, which keeps previews
and stored problems readable.
"""

from __future__ import annotations

from collections.abc import Iterable

from star.tasks.base import content_hash
from star.tasks.parsing import Example


def dedup(examples: list[Example]) -> tuple[list[Example], int]:
    """Keep the first example per content key; also the number dropped."""
    seen: set[str] = set()
    kept = []
    for example in examples:
        if example.key not in seen:
            seen.add(example.key)
            kept.append(example)
    return kept, len(examples) - len(kept)


def without(examples: list[Example], keys: Iterable[str]) -> list[Example]:
    """Examples whose content is not among `keys` (shots, the held-out set)."""
    excluded = set(keys)
    return [e for e in examples if e.key not in excluded]


def ranked(examples: list[Example], seed: int, salt: str) -> list[Example]:
    """The examples in a seeded pseudo-random order."""
    return sorted(examples, key=lambda e: content_hash(salt, str(seed), e.key))


def sample(examples: list[Example], size: int | None, seed: int, salt: str) -> list[Example]:
    """A seeded sample of at most `size` examples (all when None), in file order."""
    if size is None or size >= len(examples):
        return list(examples)
    chosen = {id(e) for e in ranked(examples, seed, salt)[:size]}
    return [e for e in examples if id(e) in chosen]


def hold_out(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Split into (train, held-out) with round(fraction * n) held out, at least
    one of each when there are two or more examples."""
    count = int(fraction * len(examples) + 0.5)  # half up, not Python's half-to-even
    if len(examples) >= 2:
        count = min(max(count, 1), len(examples) - 1)
    held = {id(e) for e in ranked(examples, seed, "held-out")[:count]}
    return [e for e in examples if id(e) not in held], [e for e in examples if id(e) in held]
