"""Evaluation metric names: `FAMILY` overall, `FAMILY/KEY=VALUE` per group, built and read here.

Examples: `accuracy`, `accuracy/digits=3`, `maj@8/level=5`, `pass@8/subject=algebra`,
`best_of_n@8`. The evaluation writes names with `metric_name` and `at_k`; readers (the
round table, `star report`) split them with `parse_metric` instead of knowing the
metrics, so a new metric shows up everywhere as soon as the evaluation stores it.
(`star rounds --json` names the strategies' overall values in db/summaries.py, which
reads the same spelling: the store imports nothing of star.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: greedy accuracy; and the test-time strategies, each written `STRATEGY@K`
ACCURACY = "accuracy"
MAJORITY, PASS, BEST_OF_N, WEIGHTED_BEST_OF_N = "maj", "pass", "best_of_n", "weighted_best_of_n"

# Families in the order people compare them (greedy, voting, sampling bound, verifier);
# unknown families follow, by name.
_FAMILY_ORDER = (ACCURACY, f"{MAJORITY}@", f"{PASS}@", BEST_OF_N, WEIGHTED_BEST_OF_N)


def at_k(strategy: str, k: int) -> str:
    """A strategy's family over k samples: `maj@8`."""
    return f"{strategy}@{k}"


def metric_name(family: str, group: str | None = None) -> str:
    """`family` overall, or `family/group` for one eval group (`accuracy/digits=3`)."""
    return family if group is None else f"{family}/{group}"


@dataclass(frozen=True)
class MetricName:
    family: str  # "maj@8"
    group: str | None  # "digits=3"; None for the overall value

    @property
    def group_key(self) -> str | None:
        """What the groups split on ("digits", "level"); None overall."""
        return None if self.group is None else self.group.partition("=")[0]


def parse_metric(name: str) -> MetricName:
    family, sep, group = name.partition("/")
    return MetricName(family, group if sep else None)


def family_sort_key(family: str) -> tuple[int, float, str]:
    """accuracy, maj@k, pass@k (by k), best_of_n, weighted_best_of_n, then the rest by name."""
    for rank, prefix in enumerate(_FAMILY_ORDER):
        if family == prefix or (prefix.endswith("@") and family.startswith(prefix)):
            return rank, _number(family.removeprefix(prefix)), family
    return len(_FAMILY_ORDER), 0.0, family


def group_sort_key(name: str) -> tuple[str, float, str]:
    """Groups by key, then by numeric value where there is one (digits=2 before digits=10)."""
    prefix, _, value = name.rpartition("=")
    return prefix, _number(value), value


def sorted_families(names: Iterable[str]) -> list[str]:
    return sorted({parse_metric(n).family for n in names}, key=family_sort_key)


def family_groups(names: Iterable[str], family: str) -> list[str]:
    """The per-group metric names of `family` among `names`, in group order."""
    return sorted((n for n in names if parse_metric(n).family == family and parse_metric(n).group is not None),
                  key=group_sort_key)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0
