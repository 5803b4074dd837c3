"""Benchmark star.checker against HuggingFace math-verify 0.9, same process, same inputs.

Two input sets:
  (a) GSM8K reference solutions, each against its own gold answer;
  (b) math-verify's own regression cases: the (gold, prediction, expected)
      triples in the `tests/` of its 0.9 sdist.

Reported: agreement (with the gold for (a), with the expected label for (b))
and throughput in checks/s for math-verify in-process, star.checker in-process,
one star worker process, and the full star pool.

    .venv/bin/python bench/checker.py [--workers N] [--mv-tests DIR] [--gsm8k-limit N]

Without --mv-tests the sdist is fetched once with `pip download` into
~/.cache/star-bench (math-verify itself must be installed: the `dev` extra).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from star.checker import Checker  # noqa: E402
from star.checker.core import gold_answer, judge  # noqa: E402
from star.checker.latex import parse_latex  # noqa: E402

MV_VERSION = "0.9.0"
CACHE = Path.home() / ".cache" / "star-bench"
# math-verify's tests call compare_strings with these extraction targets.
_LATEX_ONLY = {"test_latex_notation", "test_latex_notation_math", "test_relations_math",
               "test_matrix_extraction", "test_set_rel_assymetry"}
_EXPR_ONLY = {"test_number_extraction"}


@dataclass(frozen=True)
class Case:
    gold: str
    pred: str
    expected: int
    source: str
    options: tuple[tuple[str, object], ...] = ()


def _literal(node: ast.AST) -> object:
    """ast.literal_eval, plus the one f-string the suite uses: f"{math.sqrt(17):.15f}"."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        if not isinstance(node, ast.JoinedStr):
            raise
    out = []
    for part in node.values:
        if isinstance(part, ast.Constant):
            out.append(str(part.value))
            continue
        call = part.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "sqrt"):
            raise ValueError("unsupported f-string")
        spec = "".join(str(v.value) for v in part.format_spec.values) if part.format_spec else ""
        out.append(format(math.sqrt(ast.literal_eval(call.args[0])), spec))
    return "".join(out)


def load_cases(tests_dir: Path) -> list[Case]:
    """Every parametrized (gold, pred, expected) triple in math-verify's tests."""
    cases = []
    for path in sorted(tests_dir.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize"):
                    continue
                names = [n.strip() for n in ast.literal_eval(dec.args[0]).split(",")]
                if not {"gold", "pred"} <= set(names):
                    continue
                for element in dec.args[1].elts:
                    row = dict(zip(names, (_literal(v) for v in element.elts)))
                    expected = int(row.pop("expected", row.pop("result", 0)))
                    gold, pred = row.pop("gold"), row.pop("pred")
                    source = f"{path.name}::{node.name}"
                    cases.append(Case(gold, pred, expected, source, tuple(sorted(row.items()))))
    return cases


def fetch_mv_tests() -> Path:
    target = CACHE / f"math_verify-{MV_VERSION}" / "tests"
    if target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", f"math-verify=={MV_VERSION}", "--no-binary", ":all:",
                    "--no-deps", "-d", str(CACHE)], check=True, capture_output=True)
    with tarfile.open(CACHE / f"math_verify-{MV_VERSION}.tar.gz") as sdist:
        sdist.extractall(CACHE, filter="data")
    return target


def mv_judge(case: Case) -> bool:
    """math-verify, configured exactly as its own test configures it."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    test = case.source.split("::")[1]
    options = dict(case.options)
    if case.source.startswith("test_yujianll"):
        return bool(verify(parse(case.gold), parse(case.pred)))
    targets = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    if test in _LATEX_ONLY:
        targets = targets[:1]
    elif test in _EXPR_ONLY:
        targets = targets[1:]
    return bool(verify(parse(case.gold, targets), parse(case.pred, targets),
                       float_rounding=int(options.get("precision", 6)), strict=bool(options.get("strict", True)),
                       allow_set_relation_comp=bool(options.get("allow_set_relation_comp", False))))


def mv_default(pred: str, gold: str) -> bool:
    from math_verify import parse, verify

    return bool(verify(parse(gold), parse(pred)))


def timed(run: Callable[[], list[bool]], n: int, repeat: int) -> tuple[list[bool], float]:
    """Results of the first run and the best checks/s over `repeat` runs."""
    best, first = 0.0, None
    for _ in range(repeat):
        gold_answer.cache_clear()  # no credit for having seen the answers before
        parse_latex.cache_clear()
        started = time.perf_counter()
        results = run()
        best = max(best, n / (time.perf_counter() - started))
        first = results if first is None else first
    return first, best


def timed_pool(pairs: list[tuple[str, str]], workers: int, timeout: float, repeat: int,
               warm: list[tuple[str, str]]) -> tuple[list[bool], float]:
    """Like `timed`, with a new pool per run, so no worker has seen these inputs
    (its caches are cold). Before timing, the workers check `warm` (other
    inputs), as a long-running pool in the loop has; that is not timed."""
    best, first = 0.0, None
    for _ in range(repeat):
        with Checker(workers=workers, timeout=timeout) as checker:
            checker.check_many([("#### 1", "1")] * workers + warm)
            started = time.perf_counter()
            results = [v.correct for v in checker.check_many(pairs)]
            best = max(best, len(pairs) / (time.perf_counter() - started))
        first = results if first is None else first
    return first, best


def measure(name: str, pairs: list[tuple[str, str]], mv: Callable[[], list[bool]], workers: int,
            timeout: float, repeat: int, warm: list[tuple[str, str]]) -> dict[str, object]:
    n = len(pairs)
    mv_results, mv_rate = timed(mv, n, repeat)
    ours_in, in_rate = timed(lambda: [judge(p, g).correct for p, g in pairs], n, repeat)
    ours_one, one_rate = timed_pool(pairs, 1, timeout, repeat, warm)
    _, full_rate = timed_pool(pairs, workers, timeout, repeat, warm)
    assert ours_in == ours_one, "the pool and the in-process checker disagree"
    return {"set": name, "n": n, "mv": mv_results, "ours": ours_one, "mv_rate": mv_rate, "in_rate": in_rate,
            "one_rate": one_rate, "full_rate": full_rate, "workers": workers}


def warm_pairs(use: bool) -> list[tuple[str, str]]:
    """MATH-500 gold answers, boxed, against themselves written with \\dfrac:
    LaTeX a worker in the loop would have seen; none of it is in (a) or (b)."""
    path = REPO / "tests" / "data" / "math500" / "test.jsonl"
    if not use or not path.exists():
        return []
    with path.open() as handle:
        golds = [json.loads(line)["answer"] for line in handle if line.strip()]
    return [("The answer is $\\boxed{" + g.replace("\\frac", "\\dfrac") + "}$.", g) for g in golds]


def gsm8k_pairs(limit: int | None) -> list[tuple[str, str]]:
    rows = []
    for split in ("train", "test"):
        with (REPO / "tests" / "data" / "gsm8k" / f"{split}.jsonl").open() as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    rows = rows[:limit] if limit else rows
    return [(r["answer"], r["answer"].split("####")[-1].strip()) for r in rows]


def print_table(results: list[dict[str, object]], labels: dict[str, list[int]]) -> None:
    head = f"{'input set':<28}{'n':>6}{'agree: mv':>12}{'agree: star':>13}{'mv /s':>9}{'star in-proc /s':>17}"
    head += f"{'star 1 worker /s':>18}{'star pool /s':>14}{'1 worker vs mv':>16}"
    print(head)
    print("-" * len(head))
    for r in results:
        truth = labels[str(r["set"])]
        agree = lambda got: sum(int(g) == t for g, t in zip(got, truth)) / len(truth)  # noqa: E731
        pool = f"{r['full_rate']:.0f} ({r['workers']}w)"
        print(f"{r['set']:<28}{r['n']:>6}{agree(r['mv']):>12.2%}{agree(r['ours']):>13.2%}{r['mv_rate']:>9.0f}"
              f"{r['in_rate']:>17.0f}{r['one_rate']:>18.0f}{pool:>14}{r['one_rate'] / r['mv_rate']:>15.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes in the full pool")
    parser.add_argument("--mv-tests", type=Path, help="math-verify's tests/ directory (default: fetch the sdist)")
    parser.add_argument("--gsm8k-limit", type=int, help="use only the first N GSM8K rows")
    parser.add_argument("--repeat", type=int, default=1, help="timing runs per measurement (best is kept)")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--cold", action="store_true", help="time fresh pools without the MATH-500 warm-up")
    parser.add_argument("--cases-limit", type=int, help="use only the first N math-verify cases")
    parser.add_argument("--smoke", action="store_true",
                        help="Tiny sizes, so CI checks that the bench runs and prints its table (the numbers mean nothing).")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update({"gsm8k_limit": 40, "cases_limit": 40, "workers": 1, "cold": True})

    gsm = gsm8k_pairs(args.gsm8k_limit)
    cases = load_cases(args.mv_tests or fetch_mv_tests())[: args.cases_limit]
    mv_pairs = [(c.pred, c.gold) for c in cases]
    warm = warm_pairs(not args.cold)
    results = [
        measure("(a) GSM8K reference", gsm, lambda: [mv_default(p, g) for p, g in gsm], args.workers,
                args.timeout, args.repeat, warm),
        measure("(b) math-verify cases", mv_pairs, lambda: [mv_judge(c) for c in cases], args.workers,
                args.timeout, args.repeat, warm),
    ]
    labels = {"(a) GSM8K reference": [1] * len(gsm), "(b) math-verify cases": [c.expected for c in cases]}
    print_table(results, labels)
    ours = results[1]["ours"]
    print(f"\nDisagreements of star.checker with math-verify's expected labels ({len(cases)} cases):")
    for i, (case, got) in enumerate(zip(cases, ours)):
        if int(got) != case.expected:
            opts = f" {dict(case.options)}" if case.options else ""
            print(f"  #{i} {case.source}{opts}: expected {case.expected}, star {int(got)}\n"
                  f"      gold={case.gold[-90:]!r}\n      pred={case.pred[-90:]!r}")


if __name__ == "__main__":
    import logging

    logging.disable(logging.WARNING)  # math-verify warns on every timeout-free call path
    main()
