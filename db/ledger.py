"""The waste ledger: the tokens a round generated, and what they bought.

Wall time depends on the machine; generated tokens do not. These counts let a
user see where a round's sampling went and how much of it taught the model
anything new:

| count | what it counts, in the round |
|---|---|
| `tokens_direct` | completion tokens of the direct samples on the training pool |
| `tokens_rationalized` | ... of the hinted retries (rationalization) |
| `tokens_eval_greedy` | ... of the greedy held-out answers |
| `tokens_eval_sampled` | ... of the sampled held-out answers (maj@k, pass@k) |

`ledger(counts)` derives the figures the round table, the report and the
tracker show. Only the training pool's tokens (direct + rationalized) buy
training data, so the two efficiency figures divide those:
- `tokens_per_example`: per training example the round built (`train_examples`);
- `tokens_per_new_path`: per *new* distinct right reasoning path, a (problem,
  path) pair right this round and accepted in no earlier round (`new_paths`,
  db/exploration.py). A sample that repeats a path the model already had
  costs tokens and teaches nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Attempt

#: attempts.kind -> the round count of its completion tokens
TOKEN_COUNTS = {"direct": "tokens_direct", "rationalized": "tokens_rationalized",
                "eval": "tokens_eval_greedy", "eval_sample": "tokens_eval_sampled"}
TRAINING_POOL_COUNTS = ("tokens_direct", "tokens_rationalized")
#: (label, count) for tables and charts, in the order a round spends them
TOKEN_LABELS = (("direct", "tokens_direct"), ("rationalized", "tokens_rationalized"),
                ("held-out greedy", "tokens_eval_greedy"), ("held-out sampled", "tokens_eval_sampled"))


def token_counts(session: Session, round_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per round id, its completion tokens by attempt kind (every TOKEN_COUNTS name, 0 where none)."""
    ids = list(round_ids)
    found = {round_id: dict.fromkeys(TOKEN_COUNTS.values(), 0) for round_id in ids}
    if not ids:
        return found
    rows = session.execute(select(Attempt.round_id, Attempt.kind, func.coalesce(func.sum(Attempt.completion_tokens), 0))
                           .where(Attempt.round_id.in_(ids)).group_by(Attempt.round_id, Attempt.kind))
    for round_id, kind, tokens in rows:
        if kind in TOKEN_COUNTS:
            found[round_id][TOKEN_COUNTS[kind]] = int(tokens)
    return found


def has_token_counts(counts: Mapping[str, Any]) -> bool:
    return all(name in counts for name in TOKEN_COUNTS.values())


def _per(part: int, whole: Any) -> float | None:
    return part / whole if isinstance(whole, int) and whole > 0 else None


def ledger(counts: Mapping[str, Any]) -> dict[str, float | int | None]:
    """Totals and efficiency figures from a round's counts; all None where the round has no token counts."""
    if not has_token_counts(counts):
        return dict.fromkeys(("tokens_generated", "tokens_training_pool", "tokens_per_example",
                              "tokens_per_new_path"))
    pool = sum(int(counts[name]) for name in TRAINING_POOL_COUNTS)
    return {
        "tokens_generated": sum(int(counts[name]) for name in TOKEN_COUNTS.values()),
        "tokens_training_pool": pool,
        "tokens_per_example": _per(pool, counts.get("train_examples")) if pool else None,
        "tokens_per_new_path": _per(pool, counts.get("new_paths")) if pool else None,
    }
