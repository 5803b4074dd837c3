"""Per-round table and learning-curve plot of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from star.evaluation.metric_names import group_sort_key


def round_table(summaries: list[dict[str, Any]], title: str) -> Table:
    """Rows: one per round; greedy accuracy overall, the sampled strategies (maj@k, pass@k, verifier
    best-of-N) overall, greedy accuracy per group; check errors; wall time per phase."""
    groups = _accuracy_groups(summaries)
    phases = ["generate", "rationalize", "train", "evaluate"]
    table = Table(title=title)
    for name in ["round", "attempted", "direct", "rationalized", "check err.", "train ex.", "steps", "held-out"]:
        table.add_column(name, justify="right")
    strategies = strategy_columns(summaries)
    for header, _ in strategies:
        table.add_column(header, justify="right")
    for group in groups:
        table.add_column(group.removeprefix("accuracy/"), justify="right")
    for phase in phases:
        table.add_column(f"{phase} s", justify="right")
    for s in summaries:
        metrics = s.get("metrics", {})
        timings = s.get("timings") or {}
        table.add_row(
            str(s["round"]), _num(s.get("attempted")), _num(s.get("accepted_direct")),
            _num(s.get("accepted_rationalized")), _num(s.get("check_errors")), _num(s.get("train_examples")),
            _num(s.get("train_steps")),
            _pct(s.get("eval_accuracy")), *[_pct(s.get(key)) for _, key in strategies],
            *[_pct(metrics.get(g)) for g in groups],
            *[_secs(timings.get(p)) for p in phases],
        )
    return table


def strategy_columns(summaries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(header, summary key) of the test-time strategies any round reports: maj@k, pass@k,
    and with a verifier best-of-N and weighted best-of-N."""
    k = next((s["eval_k"] for s in summaries if s.get("eval_k")), None)
    n = next((s["eval_n"] for s in summaries if s.get("eval_n")), None)
    columns = [(f"maj@{k}", "eval_maj_at_k"), (f"pass@{k}", "eval_pass_at_k")] if k else []
    if n:
        columns += [(f"best-of-{n}", "eval_best_of_n"), (f"weighted-{n}", "eval_weighted_best_of_n")]
    return columns


#: (header, key of a round summary's "exploration", percent?) in the exploration table
EXPLORATION_COLUMNS = (("solved 1+/K", "solved_any", True), ("solved K/K", "solved_all", True),
                       ("solved 0/K", "solved_none", True), ("paths/solved", "paths_per_solved", False),
                       ("pass@k-pass@1", "heldout_pass_k_minus_pass_1", True),
                       ("held-out with steps", "heldout_with_steps", True),
                       ("right with work", "heldout_right_shows_work", True))
#: (header, count key) of refused right attempts, by reason (star.loop.acceptance.REFUSALS)
REFUSAL_COLUMNS = (("refused: no work", "refused_no_work"), ("not computed", "refused_not_computed"),
                   ("answer first", "refused_answer_first"), ("wrong steps", "refused_wrong_steps"))


def exploration_rows(summaries: list[dict[str, Any]]) -> list[list[str]]:
    """Per training round: refusals by reason, then how the round explored (db/exploration.py)."""
    rows = []
    for s in summaries:
        if not s.get("pool_problems") and not s.get("heldout_greedy"):
            continue  # a round from before exploration was counted
        shares = s.get("exploration") or {}
        rows.append([str(s["round"]), *[_num(s.get(key, 0)) for _, key in REFUSAL_COLUMNS],
                     *[_pct(shares.get(key)) if percent else _ratio(shares.get(key))
                       for _, key, percent in EXPLORATION_COLUMNS], _num(s.get("new_paths"))])
    return rows


def exploration_headers() -> list[str]:
    return ["round", *[h for h, _ in REFUSAL_COLUMNS], *[h for h, _, _ in EXPLORATION_COLUMNS], "new paths"]


def exploration_table(summaries: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for name in exploration_headers():
        table.add_column(name, justify="right")
    for row in exploration_rows(summaries):
        table.add_row(*row)
    return table


def print_round_table(console: Console, summaries: list[dict[str, Any]], title: str) -> None:
    console.print(round_table(summaries, title))
    if exploration_rows(summaries):
        console.print(exploration_table(summaries, f"{title}: refusals and exploration on the training pool"))


def plot_learning_curve(summaries: list[dict[str, Any]], out_path: Path, title: str) -> Path:
    """Held-out accuracy per round, overall (bold) and per group; written as PNG."""
    from star.report.charts import plot_curves

    groups = _accuracy_groups(summaries)
    lines = {g.removeprefix("accuracy/"): [s.get("metrics", {}).get(g) for s in summaries] for g in groups}
    lines["overall"] = [s.get("eval_accuracy") for s in summaries]
    return plot_curves([s["round"] for s in summaries], lines, out_path, title=title,
                       ylabel="held-out accuracy", bold="overall")


def _accuracy_groups(summaries: list[dict[str, Any]]) -> list[str]:
    """Per-group accuracy metric names present in any round, e.g. accuracy/digits=3, in order."""
    names = {k for s in summaries for k in s.get("metrics", {}) if k.startswith("accuracy/")}
    return sorted(names, key=group_sort_key)


def _num(value: Any) -> str:
    return "" if value is None else str(value)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"
