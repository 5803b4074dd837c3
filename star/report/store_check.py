"""`star db check`'s one question that SQL cannot answer: is each recorded checkpoint in the storage?

The store's own invariants are checked in db/check.py; a done round's
checkpoint must also be present and complete where it was published (its
`_COMPLETE` marker, star/storage/checkpoints.py), which only star/storage can
ask. `check_store_and_storage()` is what `star db check` runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from db.check import Check, CheckReport, CheckScope, Violation, check_store, recorded_checkpoints
from db.check_rows import first, plural, violation
from star.errors import StarError
from star.storage.runs import checkpoint_exists


def missing_checkpoints(session: Session, scope: CheckScope) -> list[Violation]:
    """Every done round's recorded policy checkpoint is present and complete in its storage."""
    total, rows = first(_absent(recorded_checkpoints(session, scope)), scope.limit)
    return violation("checkpoints", f"{plural(total, 'recorded checkpoint')} of done rounds missing or "
                     "incomplete in the storage (no `_COMPLETE` marker)", total, rows)


def _absent(checkpoints: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in checkpoints:
        try:
            present = checkpoint_exists(row["path"])
        except StarError as exc:  # an unreachable bucket: say so for this checkpoint, go on with the rest
            yield {**row, "issue": f"cannot ask the storage: {exc}"}
            continue
        if not present:
            yield {**row, "issue": "missing or incomplete"}


CHECKPOINTS = Check("checkpoints", "a done round's checkpoint is present and complete in the storage",
                    missing_checkpoints)


def check_store_and_storage(session: Session, scope: CheckScope) -> CheckReport:
    """Every check `star db check` runs: the store's (db/check.py), then the storage's."""
    return check_store(session, scope, extra=(CHECKPOINTS,))
