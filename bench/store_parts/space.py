"""Will the run fit on disk? Found out before hours of ingest, not at the export at the end.

A ten-million-attempt PostgreSQL run (12-07) filled the disk in its last step, the
whole run's 15 GB export, after 86 minutes, and took every measurement with it.
Sizes per attempt are the ones measured at ten million attempts (docs/store-benchmark.md).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

BYTES_PER_ATTEMPT = {"sqlite": 4_100, "postgres": 5_800}  # 41.0 and 57.6 GB at 10M, search index included
EXPORT_BYTES_PER_ATTEMPT = 1_540  # the whole run as JSONL: 15.4 GB at 10M
HEADROOM = 1.1


def bytes_needed(backend: str, attempts: int, workdir: Path, pg_data_dir: Path | None,
                 run_export: bool = True) -> dict[Path, int]:
    """Bytes one backend's run writes, keyed by the folder they land in (the export always in workdir).

    PostgreSQL's files land in the server's data directory; when that is not on this
    machine (pg_data_dir None) only the export is counted. Without the whole run's
    export (run_export False) the exports are a round's, small enough to leave out.
    """
    need: dict[Path, int] = defaultdict(int)
    if run_export:
        need[workdir] += attempts * EXPORT_BYTES_PER_ATTEMPT
    store_dir = workdir if backend == "sqlite" else pg_data_dir
    if store_dir is not None:
        need[store_dir] += attempts * BYTES_PER_ATTEMPT[backend]
    return dict(need)


def shortfall(need: dict[Path, int]) -> str | None:
    """What does not fit, in words, or None; folders on one filesystem share its free space."""
    per_device: dict[int, tuple[list[Path], int]] = {}
    for folder, size in need.items():
        device = os.stat(folder).st_dev
        folders, total = per_device.get(device, ([], 0))
        per_device[device] = ([*folders, folder], total + size)
    problems = []
    for folders, size in per_device.values():
        stat = os.statvfs(folders[0])
        free = stat.f_bavail * stat.f_frsize
        if size * HEADROOM > free:
            names = ", ".join(str(f) for f in folders)
            problems.append(f"{names}: needs about {size / 1e9:.1f} GB, {free / 1e9:.1f} GB free")
    return "; ".join(problems) or None
