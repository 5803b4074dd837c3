"""The embedded default over several seed-model builds: does the gain hold on every build?

For each seed N this runs `star run --set seed=N` as a new user would, with its
own empty model cache, in its own folder and SQLite store, then prints held-out
accuracy per round and per digit count for every build, the right 5-digit direct
samples per round (the frontier), the mean and spread across builds, and plots
mean accuracy per digit count per round with the builds' range shaded.

Seed 0's build ships in the package, so a new user's seed-0 run copies it; every
other seed is seed-trained on first use. With --from-scratch seed 0 is
seed-trained too (STAR_TINY_FROM_SCRATCH=1), as a new recipe's builds would be.

    python bench/embedded_builds.py --seeds 0 1 2 [--rounds 3] [--out bench-builds] [--from-scratch]
    python bench/embedded_builds.py --collect DIR ...   # tables and plot from runs already made

A run's folder is `<out>/seed-<N>`; an existing run there is resumed, not
repeated, so an interrupted comparison can be continued.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DIGITS = range(1, 6)


def run_build(seed: int, rounds: int, folder: Path, extra: list[str], from_scratch: bool = False,
              cache: Path | None = None) -> float:
    """`star run` of the embedded default with run seed `seed`, from an empty model cache (`folder/cache`,
    or `cache`, which runs of the same build may share); wall seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"XDG_CACHE_HOME": str(cache or folder / "cache")}
    if from_scratch:
        env["STAR_TINY_FROM_SCRATCH"] = "1"
    command = [sys.executable, "-m", "star", "run", "--quiet", "--rounds", str(rounds), "--run-name", folder.name,
               "--db", f"sqlite:///{folder / 'star.db'}", "--storage", str(folder / "runs"),
               "--set", f"seed={seed}", *extra]
    start = time.monotonic()
    subprocess.run(command, cwd=folder, env=env, check=True)
    return time.monotonic() - start


def load_rounds(folder: Path) -> list[dict[str, Any]]:
    """Per-round held-out accuracy (overall and per digit count) of the run stored in `folder`."""
    out = subprocess.run([sys.executable, "-m", "star", "rounds", folder.name, "--db",
                          f"sqlite:///{folder / 'star.db'}", "--json"], check=True, capture_output=True, text=True)
    rows = []
    for summary in json.loads(out.stdout):
        metrics = summary.get("metrics") or {}
        if "accuracy" not in metrics:
            continue
        rows.append({"round": summary["round"], "accuracy": metrics["accuracy"],
                     **{d: metrics.get(f"accuracy/digits={d}") for d in DIGITS}})
    return rows


def right_samples(folder: Path, digits: int = 5) -> list[int]:
    """Right direct samples of `digits`-digit training problems per round 1..N (the frontier's size)."""
    import sqlite3
    from contextlib import closing

    query = ("SELECT r.round_index, count(*) FROM attempts a JOIN problems p ON p.id = a.problem_id "
             "JOIN rounds r ON r.id = a.round_id WHERE a.kind = 'direct' AND a.correct "
             "AND json_extract(p.metadata, '$.digits') = ? GROUP BY r.round_index")
    with closing(sqlite3.connect(f"file:{folder / 'star.db'}?mode=ro", uri=True)) as conn:
        counts = dict(conn.execute(query, (digits,)).fetchall())
        last = conn.execute("SELECT max(round_index) FROM rounds WHERE status = 'done'").fetchone()[0] or 0
    return [counts.get(index, 0) for index in range(1, last + 1)]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def print_tables(builds: dict[str, list[dict[str, Any]]], frontier: dict[str, list[int]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for name, rows in builds.items():
        table = Table(title=f"{name}: held-out accuracy (%)")
        for column in ["round", "overall", *(f"{d} digit{'s' if d > 1 else ''}" for d in DIGITS)]:
            table.add_column(column, justify="right")
        for row in rows:
            table.add_row(str(row["round"]), _pct(row["accuracy"]), *(_pct(row[d]) for d in DIGITS))
        console.print(table)
    summary = Table(title="across builds: mean (min–max), percentage points")
    for column in ["round", "overall", "gain over own seed model", "4 digits", "5 digits"]:
        summary.add_column(column, justify="right")
    for index in range(min(len(rows) for rows in builds.values())):
        overall = [rows[index]["accuracy"] for rows in builds.values()]
        gain = [rows[index]["accuracy"] - rows[0]["accuracy"] for rows in builds.values()]
        summary.add_row(str(index), _spread(overall), _spread(gain),
                        *(_spread([rows[index][d] or 0.0 for rows in builds.values()]) for d in (4, 5)))
    console.print(summary)
    for name, samples in frontier.items():
        console.print(f"{name}: right 5-digit direct samples in rounds 1..{len(samples)}: "
                      f"{', '.join(map(str, samples))}")
    for name, rows in builds.items():
        steps = [b["accuracy"] - a["accuracy"] for a, b in zip(rows, rows[1:])]
        console.print(f"{name}: +{100 * (rows[-1]['accuracy'] - rows[0]['accuracy']):.1f} points over "
                      f"{len(rows) - 1} rounds; rises every round: {all(step > 0 for step in steps)}")


def _spread(values: list[float]) -> str:
    return f"{100 * statistics.mean(values):.1f} ({100 * min(values):.1f}–{100 * max(values):.1f})"


def plot(builds: dict[str, list[dict[str, Any]]], out_path: Path, title: str = "Embedded default") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = list(range(min(len(rows) for rows in builds.values())))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in [("accuracy", "overall", {"color": "black", "linewidth": 3}),
                              *((d, f"{d} digit{'s' if d > 1 else ''}", {}) for d in DIGITS)]:
        per_build = [[100 * (rows[r][key] or 0.0) for r in rounds] for rows in builds.values()]
        mean = [statistics.mean(column) for column in zip(*per_build)]
        line, = ax.plot(rounds, mean, marker="o", label=label, **style)
        ax.fill_between(rounds, [min(c) for c in zip(*per_build)], [max(c) for c in zip(*per_build)],
                        color=line.get_color(), alpha=0.15)
    return save_accuracy_plot(fig, ax, rounds, f"{title} over {len(builds)} seed-model builds (mean, range shaded)",
                              out_path)


def save_accuracy_plot(fig: Any, ax: Any, rounds: list[int], title: str, out_path: Path) -> Path:
    """Label a held-out-accuracy-per-round chart, write it as PNG and close it."""
    import matplotlib.pyplot as plt

    ax.set_title(title)
    ax.set_xlabel("round (0 = seed model)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_xticks(rounds)
    ax.set_ylim(-2, 102)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Run seeds (one build each).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-builds"), help="Folder for the runs and the plot.")
    parser.add_argument("--collect", type=Path, nargs="*", default=None,
                        help="Run folders already made (each named after its run); only tables and plot.")
    parser.add_argument("--title", default="Embedded default", help="What the plot's title calls the runs.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="Extra `star run --set`.")
    parser.add_argument("--from-scratch", action="store_true",
                        help="Seed-train every build, seed 0 included, instead of copying the packaged one.")
    parser.add_argument("--smoke", action="store_true",
                        help="One round of the packaged build on a few 1-2 digit sums, so CI checks that the bench "
                             "runs and prints its tables (the numbers mean nothing).")
    args = parser.parse_args()
    if args.smoke:
        args.seeds, args.rounds, args.from_scratch = [0], 1, False
        args.overrides += ["task.max_digits=2", "task.train_per_digits=6", "task.eval_per_digits=4",
                           "sampling.samples_per_problem=1", "evaluation.samples=0", "training.base_steps=2"]

    builds: dict[str, list[dict[str, Any]]] = {}
    folders: list[Path] = []
    if args.collect:
        for folder in args.collect:
            folders.append(folder.resolve())
            builds[folder.resolve().name] = load_rounds(folder.resolve())
    else:
        extra = [item for override in args.overrides for item in ("--set", override)]
        for seed in args.seeds:
            folder = (args.out / f"seed-{seed}").resolve()
            seconds = run_build(seed, args.rounds, folder, extra, from_scratch=args.from_scratch)
            folders.append(folder)
            print(f"seed {seed}: star run took {seconds / 60:.1f} min (seed-model build included)")
            builds[folder.name] = load_rounds(folder)
    print_tables(builds, {folder.name: right_samples(folder) for folder in folders})
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"plot: {plot(builds, args.out / 'embedded-builds.png', args.title)}")


if __name__ == "__main__":
    main()
