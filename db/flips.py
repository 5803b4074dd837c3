"""Which problems flipped in a run: `star flips RUN [--from R] [--to R] [--split train|eval]`.

Over the rounds of the window, each problem is compared in the first and the
last round that attempted it (states: db/outcomes.py):

| flip | first round | last round |
|---|---|---|
| unsolved_to_solved | unsolved or hint-only | solved |
| solved_to_regressed | solved | unsolved or hint-only |
| stable_solved / stable_unsolved | the same on both ends | |

A flip's `round` is the round since which the problem has been in its final
state. Besides, **hint_only_to_unaided** counts the problems that were
hint-only in some round and solved unaided in a later one (its `hint_round`
and `round`): what rationalization is for. The SQL is the `problem_flips`
view's (revision 0007), over a window of rounds instead of all of them; it
reads `problem_rounds`, one row per round and problem.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from typing import Any

from sqlalchemy import TextClause, bindparam, delete, insert, select, text
from sqlalchemy.orm import Session

from db.errors import StoreError
from db.models import FlipSnapshot, FlipSpan, Problem, Run
from db.outcomes import SPLIT_STATE_SQL, SPLITS, STATES, check_split, eval_groups, group_sort_key, rounds_between
from db.store import get_run

FLIPS = ("unsolved_to_solved", "solved_to_regressed", "hint_only_to_unaided", "stable_solved", "stable_unsolved")
CHANGES = FLIPS[:3]  # the ones that happen in a round
MAX_LIMIT = 1_000

# Per problem over the window, in two passes: the first aggregates every (round, problem) row
# (`round * 4 + state` carries a round's state through min/max, so the first and last states come
# without a window function); the second revisits only the rows of problems that flipped or were
# hint-only, for the rounds things happened in. The `problem_flips` view is the same over all rounds.
_WINDOW_SQL = """
WITH cells AS (
  SELECT pr.problem_id, r.round_index AS round, {state} AS state
  FROM problem_rounds pr JOIN rounds r ON r.id = pr.round_id
  WHERE pr.round_id IN :rounds AND {observed}
), spans AS (
  SELECT problem_id, min(round) AS first_round, max(round) AS last_round,
         min(round * 4 + state) % 4 AS start_state, max(round * 4 + state) % 4 AS end_state,
         min(CASE WHEN state = 1 THEN round END) AS hint_round,
         max(CASE WHEN state = 2 THEN round END) AS last_solved,
         max(CASE WHEN state < 2 THEN round END) AS last_unsolved
  FROM cells GROUP BY problem_id
), settled AS (
  SELECT s.problem_id,
         min(CASE WHEN c.round > CASE WHEN s.end_state = 2 THEN s.last_unsolved ELSE s.last_solved END
             THEN c.round END) AS since,
         min(CASE WHEN c.state = 2 AND c.round > s.hint_round THEN c.round END) AS unaided_round
  FROM spans s JOIN cells c ON c.problem_id = s.problem_id
  WHERE (s.start_state = 2) <> (s.end_state = 2) OR s.last_solved > s.hint_round
  GROUP BY s.problem_id
)
SELECT s.problem_id, CAST(p.metadata AS TEXT) AS metadata, s.first_round, s.last_round, s.start_state,
       s.end_state, t.since, s.hint_round, t.unaided_round
FROM spans s JOIN problems p ON p.id = s.problem_id LEFT JOIN settled t ON t.problem_id = s.problem_id
WHERE p.split = :split
"""


def _window_query(split: str) -> TextClause:
    observed, state = SPLIT_STATE_SQL[split]
    return text(_WINDOW_SQL.format(observed=observed, state=state)).bindparams(bindparam("rounds", expanding=True))


def _window_rows(session: Session, split: str, window: list[int]) -> list[Any]:
    # Plain tuples and metadata as text (parsed once per distinct value): ten thousand problems
    # are ten thousand rows here, and per-row decoding would cost more than the query.
    return list(session.execute(_window_query(split), {"rounds": window, "split": split}).all())


_SNAPSHOT_SQL = text("""
SELECT s.problem_id, CAST(p.metadata AS TEXT) AS metadata, s.first_round, s.last_round, s.start_state,
       s.end_state, s.since, s.hint_round, s.unaided_round
FROM flip_spans s JOIN problems p ON p.id = s.problem_id
WHERE s.run_id = :run AND s.split = :split
""")


def _snapshot_rows(session: Session, run_id: int, split: str, window: list[int]) -> list[Any] | None:
    """The whole run's rows from its snapshot, or None when the snapshot does not cover exactly `window`."""
    covered = session.scalar(select(FlipSnapshot.round_ids).where(FlipSnapshot.run_id == run_id,
                                                                  FlipSnapshot.split == split))
    if covered is None or covered != _round_key(window):
        return None
    return list(session.execute(_SNAPSHOT_SQL, {"run": run_id, "split": split}).all())


def _round_key(window: list[int]) -> str:
    return ",".join(map(str, window))


def snapshot_flips(session: Session, run: Run) -> int:
    """Store the run's flips over all its rounds as they are now (flip_spans), for both splits.

    Called when a round finishes: a done round's attempts do not change, so the
    snapshot stays true until the next round starts, and `run_flips` of the
    whole run reads it instead of aggregating `problem_rounds`. Returns the rows written.
    """
    window = [rid for rid, _ in rounds_between(session, run, None, None)] or [-1]
    session.execute(delete(FlipSpan).where(FlipSpan.run_id == run.id))
    session.execute(delete(FlipSnapshot).where(FlipSnapshot.run_id == run.id))
    written = 0
    for split in SPLITS:
        rows = [{"run_id": run.id, "split": split, "problem_id": row.problem_id, "first_round": row.first_round,
                 "last_round": row.last_round, "start_state": row.start_state, "end_state": row.end_state,
                 "since": row.since, "hint_round": row.hint_round, "unaided_round": row.unaided_round}
                for row in _window_rows(session, split, window)]
        if rows:
            session.execute(insert(FlipSpan), rows)
        session.add(FlipSnapshot(run_id=run.id, split=split, round_ids=_round_key(window)))
        written += len(rows)
    session.flush()
    return written


def snapshot_differences(session: Session, run: Run) -> list[dict[str, Any]]:
    """Problems whose kept flips (a current snapshot) differ from `problem_rounds` now; none without one.

    `star db check` asks this: a snapshot that disagrees means a done round's
    attempts changed after it finished (a hand edit), and `star flips` of the
    whole run would show the old state.
    """
    window = [rid for rid, _ in rounds_between(session, run, None, None)] or [-1]
    found = []
    for split in SPLITS:
        kept = _snapshot_rows(session, run.id, split, window)
        if kept is None:
            continue
        kept_rows = {row.problem_id: tuple(row) for row in kept}
        live_rows = {row.problem_id: tuple(row) for row in _window_rows(session, split, window)}
        for problem_id in sorted(kept_rows.keys() | live_rows.keys()):
            if kept_rows.get(problem_id) != live_rows.get(problem_id):
                found.append({"run": run.name, "split": split, "problem_id": problem_id,
                              "kept": _span(kept_rows.get(problem_id)), "now": _span(live_rows.get(problem_id))})
    return found


def _span(row: tuple | None) -> str | None:
    """A problem's span in a few words, for a check's report."""
    if row is None:
        return None
    _, _, first_round, last_round, start, end = row[:6]
    return f"rounds {first_round}-{last_round}: {STATES[start]} -> {STATES[end]}"


def flip_of(start: int, end: int) -> str:
    """The flip of a problem from its first and last state codes (2 solved)."""
    if start == 2 and end == 2:
        return "stable_solved"
    if end == 2:
        return "unsolved_to_solved"
    return "solved_to_regressed" if start == 2 else "stable_unsolved"


def run_flips(session: Session, run_name: str, *, split: str = "train", first: int | None = None,
              last: int | None = None, limit: int = 20, offset: int = 0) -> dict[str, Any]:
    """Counts per flip (overall, per round, per eval group) and a page of problems per flip.

    `first`/`last` bound the window (default: every round of the run); lists hold
    at most `limit` problems per flip from `offset`, ordered by round and problem id.
    """
    check_split(split)
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise StoreError(f"--limit must be 1..{MAX_LIMIT} and --offset at least 0, got {limit} and {offset}")
    run = get_run(session, run_name)
    window = [rid for rid, _ in rounds_between(session, run, first, last)] or [-1]
    whole_run = first is None and last is None
    rows = (_snapshot_rows(session, run.id, split, window) if whole_run else None) \
        or _window_rows(session, split, window)
    by_flip: dict[str, list[Any]] = {flip: [] for flip in FLIPS}
    for row in rows:
        by_flip[flip_of(row.start_state, row.end_state)].append(row)
        if row.unaided_round is not None:
            by_flip["hint_only_to_unaided"].append(row)
    return {
        "run": run.name, "split": split,
        "from": min((r.first_round for r in rows), default=None),
        "to": max((r.last_round for r in rows), default=None),
        "problems": len(rows),
        "counts": {flip: len(found) for flip, found in by_flip.items()},
        "by_round": _by_round(by_flip),
        "groups": _by_group(by_flip),
        "offset": offset, "limit": limit,
        "lists": _lists(session, by_flip, offset, limit),
    }


def _round_of(row: Any, flip: str) -> int | None:
    """The round a flip happened in: the unaided one for hint_only_to_unaided; none for stable ones."""
    if flip == "hint_only_to_unaided":
        return row.unaided_round
    return row.since if flip in CHANGES else None


def _lists(session: Session, by_flip: dict[str, list[Any]], offset: int, limit: int) -> dict[str, list[dict]]:
    """A page of each flip's problems, by round and problem id; names read for that page only."""
    # the page's rows only: a partial sort of ten thousand rows for a page of twenty
    pages = {flip: heapq.nsmallest(offset + limit, rows, key=lambda r: (_round_of(r, flip) or 0, r.problem_id))[offset:]
             for flip, rows in by_flip.items()}
    ids = {row.problem_id for rows in pages.values() for row in rows}
    names = {pid: (dataset, ext) for pid, dataset, ext in session.execute(
        select(Problem.id, Problem.dataset, Problem.external_id).where(Problem.id.in_(ids)))} if ids else {}
    return {flip: [_listed(row, flip, *names[row.problem_id]) for row in rows] for flip, rows in pages.items()}


def _listed(row: Any, flip: str, dataset: str, external_id: str) -> dict[str, Any]:
    listed = {"problem": external_id, "problem_id": row.problem_id, "dataset": dataset,
              "start_state": STATES[row.start_state], "end_state": STATES[row.end_state]}
    if flip == "hint_only_to_unaided":
        listed["hint_round"] = row.hint_round
    return {**listed, "round": _round_of(row, flip)}


def _by_round(by_flip: dict[str, list[Any]]) -> list[dict[str, Any]]:
    counts: Counter[tuple[int, str]] = Counter(
        (_round_of(row, flip), flip) for flip in CHANGES for row in by_flip[flip])
    rounds = sorted({at for at, _ in counts})
    return [{"round": r, **{flip: counts[(r, flip)] for flip in CHANGES}} for r in rounds]


def _by_group(by_flip: dict[str, list[Any]]) -> dict[str, dict[str, int]]:
    """Per eval group (a `key=value` of the problems' metadata): its problems and their flips."""
    # count per distinct metadata text first (a few hundred at most), then spread over its groups
    per_metadata = Counter((row.metadata, flip) for flip, rows in by_flip.items() for row in rows)
    counts: dict[str, Counter[str]] = {}
    for (metadata, flip), n in per_metadata.items():
        for group in eval_groups(json.loads(metadata or "{}")):
            counted = counts.setdefault(group, Counter())
            counted[flip] += n
            if flip != "hint_only_to_unaided":  # every problem has exactly one of the others
                counted["problems"] += n
    return {g: {key: counts[g][key] for key in ("problems", *FLIPS)} for g in sorted(counts, key=group_sort_key)}
