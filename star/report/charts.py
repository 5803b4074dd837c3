"""PNG charts of a run (matplotlib, Agg backend): metric curves, accepted rationales, phase timings.

`star run` draws the accuracy curve with these; `star report` draws them all.
Each function writes one PNG and returns its path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from db.ledger import TOKEN_LABELS

PHASES = ("generate", "rationalize", "train", "evaluate")


@contextmanager
def _figure(out_path: Path, title: str, size: tuple[float, float] = (7, 4.5)) -> Iterator[Any]:
    """A figure and axes; saved to `out_path` and closed when the block ends."""
    import matplotlib

    matplotlib.use("Agg")  # no display: reports are drawn on servers and in CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    try:
        yield ax
        ax.set_title(title)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_path, dpi=110)
    finally:
        plt.close(fig)


def plot_curves(
    rounds: Sequence[int],
    lines: Mapping[str, Sequence[float | None]],
    out_path: Path,
    *,
    title: str,
    ylabel: str,
    bold: str | None = None,
) -> Path:
    """One line per entry of `lines` over `rounds`; `bold` names the overall line.

    Values in [0, 1] are fractions and are drawn as percent; anything else as is.
    """
    values = [v for series in lines.values() for v in series if v is not None]
    as_percent = all(0.0 <= v <= 1.0 for v in values)
    scale = 100.0 if as_percent else 1.0
    with _figure(out_path, title) as ax:
        for label, series in lines.items():
            # Rounds without a value (e.g. `star eval` of rounds 0 and 3 only) are skipped, not
            # left as gaps: the line joins the rounds that were measured.
            measured = [(r, v * scale) for r, v in zip(rounds, series) if v is not None]
            xs, ys = [r for r, _ in measured], [v for _, v in measured]
            if label == bold:
                ax.plot(xs, ys, marker="o", linewidth=3, color="black", label=label, zorder=3)
            else:
                ax.plot(xs, ys, marker=".", alpha=0.75, label=label)
        ax.set_xlabel("round (0 = starting model)")
        ax.set_ylabel(f"{ylabel} (%)" if as_percent else ylabel)
        ax.set_xticks(list(rounds))
        if as_percent:
            ax.set_ylim(-2, 102)
        if lines:
            ax.legend(loc="best", fontsize=8)
    return out_path


def plot_accepted(summaries: Sequence[Mapping[str, Any]], out_path: Path, *, title: str) -> Path:
    """Accepted direct and rationalized rationales per round (stacked bars) and the rationalized share."""
    rounds = [s["round"] for s in summaries]
    direct = [s.get("accepted_direct") or 0 for s in summaries]
    rationalized = [s.get("accepted_rationalized") or 0 for s in summaries]
    with _figure(out_path, title) as ax:
        ax.bar(rounds, direct, label="direct", color="tab:blue")
        ax.bar(rounds, rationalized, bottom=direct, label="rationalized", color="tab:orange")
        ax.set_xlabel("round")
        ax.set_ylabel("accepted rationales")
        ax.set_xticks(rounds)
        share_ax = ax.twinx()
        shares = [rationalization_share(s) for s in summaries]
        share_ax.plot(rounds, [v * 100 if v is not None else None for v in shares], color="black",
                      marker="o", label="rationalized share")
        share_ax.set_ylabel("rationalized share (%)")
        share_ax.set_ylim(0, 100)
        _legend_of_both(ax, share_ax, loc="upper left")
    return out_path


def plot_exploration(summaries: Sequence[Mapping[str, Any]], out_path: Path, *, title: str) -> Path:
    """Per round, the training pool's problems solved by 1+ of K, by all K and by none, and the greedy
    held-out answers that write out steps (%); distinct right reasoning paths per solved problem (right axis)."""
    measured = [s for s in summaries if s.get("pool_problems") or s.get("heldout_greedy")]
    rounds = [s["round"] for s in measured]
    shares = [s.get("exploration") or {} for s in measured]
    with _figure(out_path, title) as ax:
        for key, label in (("solved_any", "solved by 1+ of K"), ("solved_all", "solved by K of K"),
                           ("solved_none", "solved by none"), ("heldout_with_steps", "held-out answers with steps")):
            ax.plot(rounds, [_percent(e.get(key)) for e in shares], marker="o", label=label)
        ax.set_xlabel("round")
        ax.set_ylabel("training problems (%)")
        ax.set_ylim(-2, 102)
        ax.set_xticks(rounds)
        paths_ax = ax.twinx()
        paths_ax.plot(rounds, [_value(e.get("paths_per_solved")) for e in shares], color="black", linestyle="--",
                      marker="s", label="distinct right paths per solved problem")
        paths_ax.set_ylabel("distinct right paths per solved problem")
        paths_ax.set_ylim(bottom=0)
        _legend_of_both(ax, paths_ax, loc="best")
    return out_path


def plot_ledger(summaries: Sequence[Mapping[str, Any]], out_path: Path, *, title: str) -> Path:
    """Per round, tokens generated by kind (stacked bars) and the training pool's tokens per new distinct
    right reasoning path (line, right axis): the hardware-independent cost of what the round taught."""
    measured = [s for s in summaries if (s.get("ledger") or {}).get("tokens_generated") is not None]
    rounds = [s["round"] for s in measured]
    bottom = [0.0] * len(rounds)
    with _figure(out_path, title) as ax:
        for label, key in TOKEN_LABELS:
            tokens = [float(s.get(key) or 0) for s in measured]
            ax.bar(rounds, tokens, bottom=bottom, label=label)
            bottom = [b + t for b, t in zip(bottom, tokens)]
        ax.set_xlabel("round")
        ax.set_ylabel("tokens generated")
        ax.set_xticks(rounds)
        ax.set_ylim(0, 1.5 * max(bottom, default=0) or 1)  # headroom: the legend sits above the bars
        per_path_ax = ax.twinx()
        per_path_ax.plot(rounds, [_value(s["ledger"].get("tokens_per_new_path")) for s in measured], color="black",
                         linestyle="--", marker="s", label="training-pool tokens per new right path")
        per_path_ax.set_ylabel("tokens per new right path")
        per_path_ax.set_ylim(0, 1.5 * max((_value(s["ledger"].get("tokens_per_new_path")) for s in measured
                                           if s["ledger"].get("tokens_per_new_path")), default=1))
        _legend_of_both(ax, per_path_ax, loc="upper left", columns=2)
    return out_path


def _legend_of_both(ax: Any, right_ax: Any, *, loc: str, columns: int = 1) -> None:
    """One legend for a chart with a second y axis: the left axis's lines, then the right one's."""
    handles, labels = ax.get_legend_handles_labels()
    more_handles, more_labels = right_ax.get_legend_handles_labels()
    ax.legend(handles + more_handles, labels + more_labels, loc=loc, fontsize=8, ncol=columns)


def _percent(value: float | None) -> float:
    return math.nan if value is None else value * 100


def _value(value: float | None) -> float:
    return math.nan if value is None else value


def plot_timings(summaries: Sequence[Mapping[str, Any]], out_path: Path, *, title: str) -> Path:
    """Wall seconds per round, stacked by phase."""
    rounds = [s["round"] for s in summaries]
    bottom = [0.0] * len(rounds)
    with _figure(out_path, title) as ax:
        for phase in PHASES:
            secs = [float((s.get("timings") or {}).get(phase) or 0.0) for s in summaries]
            ax.bar(rounds, secs, bottom=bottom, label=phase)
            bottom = [b + v for b, v in zip(bottom, secs)]
        ax.set_xlabel("round")
        ax.set_ylabel("wall time (s)")
        ax.set_xticks(rounds)
        ax.legend(loc="best", fontsize=8)
    return out_path


def rationalization_share(summary: Mapping[str, Any]) -> float | None:
    """Rationalized / all accepted rationales of a round; None when it accepted none (or did not say)."""
    direct = summary.get("accepted_direct") or 0
    rationalized = summary.get("accepted_rationalized") or 0
    total = direct + rationalized
    return rationalized / total if total else None
