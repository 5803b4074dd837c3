"""The soak's plan and its table: which failure each night gets, and what the nights add up to.

Pure functions, no cluster: tests/cluster/soak.py runs the nights.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAULTS = ("generator", "checker", "trainer", "worker_node", "job_stop", "driver_kill", "scheduler", "head")
QUIET = "none"  # a night without a failure: the kind of an undisturbed reference run


@dataclass(frozen=True)
class Fault:
    """One night's failure: what is broken, and at which share of the round's stored attempts."""

    kind: str
    at_share: float


def plan_nights(nights: int, seed: int, kinds: tuple[str, ...] = FAULTS) -> list[Fault]:
    """A failure per night: the kinds other than `head` in seeded shuffled blocks (so each comes
    about equally often), `head` once on a seeded night, each at a seeded moment of its night."""
    unknown = set(kinds) - {*FAULTS, QUIET}
    if unknown or not kinds:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose from {', '.join(FAULTS)} or {QUIET}")
    rng = random.Random(seed)
    others = [k for k in kinds if k != "head"] or ["head"]
    order: list[str] = []
    while len(order) < nights:
        block = list(others)
        rng.shuffle(block)
        order += block
    order = order[:nights]
    if "head" in kinds and nights and others != ["head"]:
        order[rng.randrange(nights)] = "head"
    return [Fault(kind, round(rng.uniform(0.05, 0.9), 3)) for kind in order]


@dataclass
class NightResult:
    night: int
    round: int
    fault: Fault
    injected: bool
    recovery_s: float | None  # from the failure to the night's round done
    firings: int
    violations: int
    note: str = ""
    accuracy: float | None = None  # the round's held-out accuracy
    accepted: str = ""  # digest of the round's accepted attempts (problem, kind, sample, completion)
    tries: int = 1  # tries the night's firing took (a failed firing is retried)
    errors: list[str] = field(default_factory=list)  # the failed tries' errors, as the firing recorded them
    stored: dict[str, tuple[int, int]] = field(default_factory=dict)  # per kind: (attempt rows, distinct keys)


def summary_rows(results: list[NightResult]) -> list[dict[str, Any]]:
    """Per fault kind: nights, injected, recovery min / median / max (s), firings other than one, violations."""
    rows = []
    for kind in (*FAULTS, QUIET):
        mine = [r for r in results if r.fault.kind == kind]
        if not mine:
            continue
        times = [r.recovery_s for r in mine if r.recovery_s is not None]
        rows.append({"kind": kind, "nights": len(mine), "injected": sum(r.injected for r in mine),
                     "min_s": min(times, default=None), "median_s": statistics.median(times) if times else None,
                     "max_s": max(times, default=None), "tries": (min(r.tries for r in mine), max(r.tries for r in mine)),
                     "extra_firings": sum(r.firings != 1 for r in mine),
                     "violations": sum(r.violations for r in mine)})
    return rows


def print_table(results: list[NightResult], out: Callable[[str], None] = print) -> None:
    def s(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    out("| failure | nights | injected | round done after it, min / median / max (s) | firing tries | "
        "slots not fired once | violations |")
    out("|---|---|---|---|---|---|---|")
    for row in summary_rows(results):
        low, high = row["tries"]
        out(f"| {row['kind']} | {row['nights']} | {row['injected']} | {s(row['min_s'])} / {s(row['median_s'])} "
            f"/ {s(row['max_s'])} | {low if low == high else f'{low}-{high}'} | {row['extra_firings']} | "
            f"{row['violations']} |")
    once = sum(1 for r in results if r.firings == 1)
    out(f"\nnights (rounds done): {len(results)}; failures injected: {sum(r.injected for r in results)}; "
        f"slots fired exactly once: {once}; violations: {sum(r.violations for r in results)}")


def compare_runs(results: list[NightResult], reference: list[dict[str, Any]],
                 out: Callable[[str], None] = print) -> int:
    """Per night, whether this run's held-out accuracy and accepted set equal the reference's; returns
    how many nights are the same."""
    same = 0
    for mine, theirs in zip(results, reference):
        equal = (mine.accuracy, mine.accepted) == (theirs["accuracy"], theirs["accepted"])
        same += equal
        out(f"night {mine.night:2d}: {'same' if equal else 'DIFFERENT'} (accuracy {mine.accuracy} vs "
            f"{theirs['accuracy']}, accepted {mine.accepted} vs {theirs['accepted']})")
    out(f"same as the reference on {same} of {min(len(results), len(reference))} nights")
    return same
