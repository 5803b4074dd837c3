"""Which training data a round saw: a content hash and a row count.

A nightly run re-reads its dataset at every firing, so the training pool can
grow between rounds; the hash lets `star rounds` show when it changed. It is
over the sorted (uid, question, gold) triples, so file order does not matter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from star.tasks.base import Problem


def dataset_snapshot(problems: Iterable[Problem]) -> tuple[str, int]:
    """(sha256 hex digest, number of problems) of a training pool."""
    rows = sorted((p.uid, p.question, p.gold) for p in problems)
    digest = hashlib.sha256()
    for row in rows:
        for part in row:
            digest.update(part.encode())
            digest.update(b"\x1f")  # unit separator: ("ab", "c") and ("a", "bc") differ
        digest.update(b"\x1e")
    return digest.hexdigest(), len(rows)
