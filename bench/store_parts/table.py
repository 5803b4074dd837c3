"""bench/store.py's result table: one column per backend, one line per measure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LATENCIES = (
    ("list", "rationales --round R --limit 100"),
    ("list_accepted", "  ... accepted only (a round's training set, first page)"),
    ("list_problem", "  ... --problem ID"),
    ("list_run", "  ... without --round"),
    ("cli_list", "  ... via CLI, --json"),
    ("list_contains_miss", "  ... --contains TEXT (no match: scans the round)"),
    ("story", "a problem's story (star problem, first page)"),
    ("flips_run", "flips of the run (every round, from its snapshot)"),
    ("flips_run_live", "  ... aggregated from problem_rounds (--from 0)"),
    ("flips_last", "flips of the last two rounds"),
    ("flips_scale_run", "flips, run of --flips-rounds rounds (snapshot)"),
    ("flips_scale_live", "  ... aggregated from problem_rounds (--from 1)"),
    ("flips_scale_last", "  ... its last two rounds"),
    ("search_rare", "search a rare word (whole run)"),
    ("search_common", "search a common word (whole run)"),
    ("search_common_round", "search a common word (last round, accepted)"),
    ("web_run", "web view: run page over HTTP"),
    ("web_problem", "web view: problem page over HTTP"),
)


def _ms(timing: dict[str, float] | None) -> str:
    return "-" if timing is None else f"{timing['p50_ms']:.1f} / {timing['p95_ms']:.1f}"


def _ratio_lines(results: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    if not all("ratio" in r for r in results.values()):
        return []
    ratio = {b: r["ratio"] for b, r in results.items()}
    return [
        ("ratio test: attempts per database", *(f"{r['rows']:,}" for r in ratio.values())),
        ("  ingest/s at revision 0006 (before)", *(f"{r['before_per_s']:,.0f}" for r in ratio.values())),
        ("  ingest/s at head (triggers)", *(f"{r['after_per_s']:,.0f}" for r in ratio.values())),
        ("  head / before", *(f"{r['ratio']:.2f}" for r in ratio.values())),
        ("  search indexing attempts/s", *(f"{r['index_per_s']:,.0f}" for r in ratio.values())),
        ("  ingest/s if indexed while storing (bound)", *(f"{r['sync_bound_per_s']:,.0f}" for r in ratio.values())),
    ]


def print_table(results: dict[str, dict[str, Any]]) -> None:
    rs = list(results.values())
    lines: list[tuple[str, ...]] = [("measure", *results.keys()), *_ratio_lines(results)]
    lines += [
        ("attempts stored", *(f"{r['rows']:,}" for r in rs)),
        ("ingest attempts/s (all)", *(f"{r['ingest_per_s']:,.0f}" for r in rs)),
        ("ingest wall / client CPU s", *(f"{r['ingest_wall_s']:.0f} / {r['ingest_client_cpu_s']:.0f}" for r in rs)),
        ("search indexing: attempts/s (s)", *(f"{r['index_per_s']:,.0f} ({r['index_s']:.0f})" for r in rs)),
        ("disk size, GB", *(f"{r['disk_bytes'] / 1e9:.2f}" for r in rs)),
        ("flips snapshot at a round's end, s", *(f"{r.get('flips_snapshot_s', float('nan')):.2f}" for r in rs)),
    ]
    lines += [(f"{label} p50 / p95 ms", *(_ms(r["latency"].get(key)) for r in rs)) for key, label in LATENCIES]
    if all("flips_scale_snapshot_s" in r["latency"] for r in rs):
        lines.append(("flips snapshot of the --flips-rounds run, s",
                      *(f"{r['latency']['flips_scale_snapshot_s']:.2f}" for r in rs)))
    for key in rs[0]["export"]:
        lines.append((f"export round ({key}) s", *(
            f"{r['export'][key]['s']:.2f} ({r['export'][key]['rows']:,} rows)" for r in rs)))
    for key in ("round", "run"):
        lines.append((f"star export jsonl, {key}: s / peak RSS MB / GB",
                      *(export_cell(r, key) for r in rs)))
    lines.append(("load average before / after", *(f"{r['load_before']:.1f} / {r['load_after']:.1f}" for r in rs)))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    for n, line in enumerate(lines):
        print(" | ".join(str(cell).ljust(w) for cell, w in zip(line, widths)))
        if n == 0:
            print("-|-".join("-" * w for w in widths))


def reprint(path: Path) -> None:
    """Print the table of a saved --json-out file again."""
    print_table(json.loads(path.read_text()))


def export_cell(result: dict[str, Any], key: str) -> str:
    """One export's time, memory and size; or why there is none (it failed, or --skip-run-export)."""
    measured = result.get("export_memory", {}).get(key)
    if measured:
        return f"{measured['s']:.1f} / {measured['peak_rss_mb']:.0f} / {measured['bytes'] / 1e9:.2f}"
    return "failed" if "export_memory_error" in result else "skipped"
