"""Frontier sampling: spend a round's sampling budget where the model is not yet reliable.

STaR's gain comes from problems just past what the model can do: a few right
samples there become training examples, and the next round gets further. With
K samples for every problem, most of the budget goes to problems the model
already solves every time (short sums after round 1). Frontier sampling keeps
the round's total at K x problems but gives a problem whose every sample was
right last round only `solved_samples`, and shares the rest equally among the
others, up to `max_samples` each. Round 1 has no history, so it samples
uniformly, as does any problem the last round did not sample.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LastRound:
    """How one problem's direct samples fared in the previous round."""

    right: int
    sampled: int

    @property
    def always_right(self) -> bool:
        return self.sampled > 0 and self.right == self.sampled


def last_round_record(attempts: Iterable[tuple[int, bool]]) -> dict[int, LastRound]:
    """(problem id, accepted) per direct attempt -> right and sampled counts per problem."""
    right: Counter[int] = Counter()
    sampled: Counter[int] = Counter()
    for problem_id, accepted in attempts:
        sampled[problem_id] += 1
        right[problem_id] += int(accepted)
    return {pid: LastRound(right[pid], sampled[pid]) for pid in sampled}


def _always_right(last_round: Mapping[int, LastRound], problem_id: int) -> bool:
    return problem_id in last_round and last_round[problem_id].always_right


def allocate_samples(problem_ids: Sequence[int], last_round: Mapping[int, LastRound], *, k: int,
                     solved_samples: int, max_samples: int) -> dict[int, int]:
    """Samples per problem for this round; their sum never exceeds k x len(problem_ids).

    Problems always right last round get `solved_samples` (they stay in the
    training set, so a from-base round does not forget them); the others share
    the remaining budget, the remainder going one each to the lowest ids so the
    split is deterministic (a resumed round asks for the same samples).
    """
    if not 1 <= solved_samples <= k <= max_samples:
        raise ValueError(f"need 1 <= solved_samples ({solved_samples}) <= k ({k}) <= max_samples ({max_samples})")
    solved = {pid for pid in problem_ids if _always_right(last_round, pid)}
    open_ids = sorted(pid for pid in problem_ids if pid not in solved)
    counts = {pid: solved_samples for pid in solved}
    if not open_ids:
        return counts
    budget = k * len(problem_ids) - solved_samples * len(solved)
    share, extra = divmod(budget, len(open_ids))
    for rank, pid in enumerate(open_ids):
        counts[pid] = min(max_samples, share + (1 if rank < extra else 0))
    return counts


def allocation_summary(counts: Mapping[int, int], last_round: Mapping[int, LastRound]) -> str:
    """One log line: how many problems were solved last round and how the budget was spent."""
    solved = [n for pid, n in counts.items() if _always_right(last_round, pid)]
    others = [n for pid, n in counts.items() if not _always_right(last_round, pid)]
    spread = f"{min(others)}-{max(others)}" if others else "-"
    return (f"frontier sampling: {len(solved)} problems always right last round get {max(solved, default='-')} "
            f"sample(s) each; {len(others)} others get {spread} ({sum(counts.values())} samples in all)")
