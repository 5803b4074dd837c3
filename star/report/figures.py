"""The report's PNGs: which charts a run gets, drawn next to index.html.

Metric charts come from whatever the evaluations table holds: per split, one
chart comparing the families' overall values (greedy, maj@k, pass@k, best-of-N
...) and, per family, one chart per group key (digits, level, subject) with the
overall value in bold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from star.evaluation.metric_names import family_groups, parse_metric, sorted_families
from star.report.charts import plot_accepted, plot_curves, plot_exploration, plot_ledger, plot_timings
from star.report.page_data import ReportData, ordered_splits

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Figure:
    file: str  # name of the PNG next to index.html
    caption: str
    section: str  # "eval:<split>:<family>", "eval:<split>", "accepted", "exploration", "ledger" or "timings"


class _Drawer:
    """Numbers the files, so names built from metric names can never collide."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.figures: list[Figure] = []

    def path(self, stem: str) -> Path:
        return self.out_dir / f"fig{len(self.figures) + 1:02d}-{_UNSAFE.sub('-', stem).strip('-')}.png"

    def add(self, path: Path, caption: str, section: str) -> None:
        self.figures.append(Figure(path.name, caption, section))


def draw_figures(data: ReportData, out_dir: Path) -> list[Figure]:
    """Draw every chart of the run into `out_dir`; returns them in page order."""
    drawer = _Drawer(out_dir)
    rounds = [s["round"] for s in data.summaries]
    name = data.run["name"]
    for split in ordered_splits(data):
        _metric_figures(drawer, rounds, split, data.evaluations[split], name)
    if data.summaries:
        path = plot_accepted(data.summaries, drawer.path("accepted"), title=f"{name}: accepted rationales")
        drawer.add(path, "Accepted rationales per round: direct and rationalized (bars), rationalized share (line)",
                   "accepted")
        if any(s.get("pool_problems") or s.get("heldout_greedy") for s in data.summaries):
            path = plot_exploration(data.summaries, drawer.path("exploration"), title=f"{name}: exploration")
            drawer.add(path, "Training problems solved by 1+, all and none of their K samples, greedy held-out "
                       "answers that write out steps (%), and distinct right reasoning paths per solved problem "
                       "(dashed, right axis)", "exploration")
        if any((s.get("ledger") or {}).get("tokens_generated") is not None for s in data.summaries):
            path = plot_ledger(data.summaries, drawer.path("ledger"), title=f"{name}: tokens generated")
            drawer.add(path, "Tokens generated per round by kind (bars), and the training pool's tokens per new "
                       "distinct right reasoning path (dashed, right axis)", "ledger")
        path = plot_timings(data.summaries, drawer.path("timings"), title=f"{name}: phase timings")
        drawer.add(path, "Wall time per round and phase", "timings")
    return drawer.figures


def _metric_figures(drawer: _Drawer, rounds: list[int], split: str,
                    metrics: dict[str, dict[int, float]], run: str) -> None:
    families = sorted_families(metrics)
    overall = {f: metrics[f] for f in families if f in metrics}
    if len(overall) > 1:
        path = plot_curves(rounds, _series(rounds, overall), drawer.path(f"{split}-strategies"),
                           title=f"{run}: all metrics on {split}", ylabel="score")
        drawer.add(path, f"Every metric on the {split} split, overall", f"eval:{split}")
    for family in families:
        for key, groups in _groups_by_key(metrics, family).items():
            lines = _series(rounds, {g.partition('/')[2]: metrics[g] for g in groups})
            if family in metrics:
                lines["overall"] = [metrics[family].get(r) for r in rounds]
            stem = f"{split}-{family}" + (f"-{key}" if key else "")
            label = f"{family} per {key}" if key else family
            path = plot_curves(rounds, lines, drawer.path(stem), title=f"{run}: {label} ({split})",
                               ylabel=family, bold="overall")
            drawer.add(path, f"{label} on the {split} split" + (", overall in bold" if key else ""),
                       f"eval:{split}:{family}")


def _groups_by_key(metrics: dict[str, dict[int, float]], family: str) -> dict[str | None, list[str]]:
    """Group metric names of `family` by what they split on; {None: []} for a family without groups."""
    by_key: dict[str | None, list[str]] = {}
    for metric in family_groups(metrics, family):
        by_key.setdefault(parse_metric(metric).group_key, []).append(metric)
    return by_key or {None: []}


def _series(rounds: list[int], values: dict[str, dict[int, float]]) -> dict[str, list[float | None]]:
    return {label: [by_round.get(r) for r in rounds] for label, by_round in values.items()}
