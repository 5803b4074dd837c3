"""Controls that show what STaR did: the embedded default against three controls on the same builds.

For each seed-model build (run seed N) and each arm, `star run --set seed=N` with the arm's settings, in
its own folder and SQLite store; the builds' model caches are shared across arms, so every arm starts
from the same seed model with the same step schedule (40 x 1.2^(r-1) steps, from the base model):

| arm | trains each round on |
|---|---|
| star | the accepted rationales (the default) |
| no-rationalization | the accepted direct rationales only (the paper's ablation) |
| no-star-data | the tiny model's own seed set (training.data: seed_set): what is left of the gain is the schedule |
| direct-answers | every training problem's gold answer, no rationale (training.data: gold_answers; the paper's baseline) |

It prints held-out accuracy per round and arm (mean and range over builds), per digit count at the last
round, STaR's gain beside STaR minus the no-STaR-data arm, and whether STaR beats every control on every
build by `--margin` points at the last round; and it plots each arm's mean with the builds' range shaded.

    python bench/ablation.py --seeds 0 1 2 [--rounds 3] [--arms star no-star-data ...] [--out bench-ablation]
    python bench/ablation.py --collect bench-ablation        # tables and plot from runs already made

A run's folder is `<out>/seed-<N>/<arm>`; an existing run there is resumed, not repeated.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embedded_builds import DIGITS, load_rounds, run_build, save_accuracy_plot  # a sibling script

ARMS: dict[str, list[str]] = {
    "star": [],
    "no-rationalization": ["rationalization.enabled=false"],
    "no-star-data": ["training.data=seed_set"],
    "direct-answers": ["training.data=gold_answers"],
}
Results = dict[str, dict[int, list[dict[str, Any]]]]  # arm -> seed -> per-round rows (load_rounds)


def run_arms(seeds: list[int], arms: list[str], rounds: int, out: Path, extra: list[str]) -> Results:
    results: Results = {arm: {} for arm in arms}
    for seed in seeds:
        cache = (out / f"seed-{seed}" / "cache").resolve()
        for arm in arms:
            folder = (out / f"seed-{seed}" / arm).resolve()
            settings = [item for override in ARMS[arm] for item in ("--set", override)]
            seconds = run_build(seed, rounds, folder, [*settings, *extra], cache=cache)
            print(f"seed {seed}, {arm}: star run took {seconds / 60:.1f} min")
            results[arm][seed] = load_rounds(folder)
    return results


def collect(out: Path) -> Results:
    results: Results = {}
    for folder in sorted(out.glob("seed-*/*")):
        if folder.name in ARMS and (folder / "star.db").exists():
            results.setdefault(folder.name, {})[int(folder.parent.name.removeprefix("seed-"))] = load_rounds(folder)
    return {arm: results[arm] for arm in ARMS if arm in results}


def spread(values: list[float]) -> str:
    """Mean (min–max) in percent."""
    return f"{100 * statistics.mean(values):.1f} ({100 * min(values):.1f}–{100 * max(values):.1f})"


def summary_rows(results: Results) -> list[list[str]]:
    """Per arm: held-out accuracy per round, mean (range) over builds."""
    rounds = min(len(rows) for by_seed in results.values() for rows in by_seed.values())
    return [[arm, *(spread([rows[r]["accuracy"] for rows in by_seed.values()]) for r in range(rounds))]
            for arm, by_seed in results.items()]


def star_against_controls(results: Results, margin: float) -> list[str]:
    """Lines on STaR's gain, its gain minus the no-STaR-data arm's, and its lead over each control at the last
    round on each build (those builds every arm ran)."""
    if "star" not in results:
        return ["no star arm: nothing to compare"]
    lines = []
    star = results["star"]
    gain = [rows[-1]["accuracy"] - rows[0]["accuracy"] for rows in star.values()]
    lines.append(f"STaR's raw gain, round 0 -> {len(next(iter(star.values()))) - 1}: {spread(gain)} points")
    if "no-star-data" in results:
        shared = sorted(set(star) & set(results["no-star-data"]))
        net = [star[s][-1]["accuracy"] - results["no-star-data"][s][-1]["accuracy"] for s in shared]
        if net:
            lines.append(f"STaR minus no-STaR-data at the last round (the gain that is STaR's): {spread(net)} points")
    for arm, by_seed in results.items():
        if arm == "star":
            continue
        shared = sorted(set(star) & set(by_seed))
        leads = {s: star[s][-1]["accuracy"] - by_seed[s][-1]["accuracy"] for s in shared}
        if not leads:
            continue
        beaten = all(lead >= margin / 100 for lead in leads.values())
        shown = ", ".join(f"seed {s}: {100 * lead:+.1f}" for s, lead in leads.items())
        lines.append(f"STaR over {arm} at the last round: {shown} -> "
                     f"{'beats it by' if beaten else 'does NOT beat it by'} >= {margin:g} points on every build")
    return lines


def print_report(results: Results, margin: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    rows = summary_rows(results)
    table = Table(title=f"held-out accuracy (%) per round: mean (range) over {_builds(results)} builds")
    for column in ["arm", *(f"round {r}" for r in range(len(rows[0]) - 1))]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    digits = Table(title="last round, held-out accuracy (%) per digit count: mean (range)")
    for column in ["arm", *(f"{d} digit{'s' if d > 1 else ''}" for d in DIGITS)]:
        digits.add_column(column, justify="right")
    for arm, by_seed in results.items():
        digits.add_row(arm, *(spread([rows[-1][d] or 0.0 for rows in by_seed.values()]) for d in DIGITS))
    console.print(digits)
    for line in star_against_controls(results, margin):
        console.print(line)


def _builds(results: Results) -> int:
    return len({seed for by_seed in results.values() for seed in by_seed})


def plot(results: Results, out_path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    rounds = list(range(min(len(rows) for by_seed in results.values() for rows in by_seed.values())))
    for arm, by_seed in results.items():
        per_build = [[100 * rows[r]["accuracy"] for r in rounds] for rows in by_seed.values()]
        line, = ax.plot(rounds, [statistics.mean(c) for c in zip(*per_build)], marker="o", label=arm,
                        linewidth=3 if arm == "star" else 1.5)
        ax.fill_between(rounds, [min(c) for c in zip(*per_build)], [max(c) for c in zip(*per_build)],
                        color=line.get_color(), alpha=0.15)
    return save_accuracy_plot(fig, ax, rounds, f"STaR and its controls over {_builds(results)} seed-model builds "
                              "(mean, range shaded)", out_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Run seeds (one build each).")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-ablation"), help="Folder for the runs and the plot.")
    parser.add_argument("--collect", action="store_true", help="Only tables and plot from the runs in --out.")
    parser.add_argument("--margin", type=float, default=10.0, help="Points STaR must lead every control by.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="Extra `star run --set`.")
    parser.add_argument("--smoke", action="store_true",
                        help="One round of the no-STaR-data arm on the packaged build with a few 1-2 digit sums, so "
                             "CI checks that the bench runs and prints its tables (the numbers mean nothing).")
    args = parser.parse_args()
    if args.smoke:
        args.seeds, args.rounds, args.arms, args.collect = [0], 1, ["no-star-data"], False
        args.overrides += ["task.max_digits=2", "task.train_per_digits=6", "task.eval_per_digits=4",
                           "sampling.samples_per_problem=1", "evaluation.samples=0", "training.base_steps=2"]
    if args.collect:
        results = collect(args.out)
    else:
        extra = [item for override in args.overrides for item in ("--set", override)]
        results = run_arms(args.seeds, args.arms, args.rounds, args.out, extra)
    if not results:
        sys.exit(f"no runs in {args.out}: run without --collect first")
    print_report(results, args.margin)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"plot: {plot(results, args.out / 'ablation.png')}")


if __name__ == "__main__":
    main()
