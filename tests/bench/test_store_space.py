"""The store bench refuses a run that will not fit on disk before it starts ingesting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from store_parts.space import BYTES_PER_ATTEMPT, EXPORT_BYTES_PER_ATTEMPT, bytes_needed, shortfall

BENCH = Path(__file__).resolve().parents[2] / "bench" / "store.py"


def _free(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


def test_sqlite_and_its_export_share_the_workdir(tmp_path: Path) -> None:
    need = bytes_needed("sqlite", 1_000, tmp_path, pg_data_dir=None)
    assert need == {tmp_path: 1_000 * (BYTES_PER_ATTEMPT["sqlite"] + EXPORT_BYTES_PER_ATTEMPT)}


def test_postgres_counts_its_data_directory_only_when_it_is_known(tmp_path: Path) -> None:
    data = tmp_path / "pgdata"
    data.mkdir()
    assert bytes_needed("postgres", 10, tmp_path, data) == {tmp_path: 10 * EXPORT_BYTES_PER_ATTEMPT,
                                                            data: 10 * BYTES_PER_ATTEMPT["postgres"]}
    assert bytes_needed("postgres", 10, tmp_path, None) == {tmp_path: 10 * EXPORT_BYTES_PER_ATTEMPT}


def test_folders_on_one_filesystem_add_up(tmp_path: Path) -> None:
    half = _free(tmp_path) // 2 + 1  # each half fits alone; together they do not
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert shortfall({tmp_path / "a": 1_000}) is None
    missing = shortfall({tmp_path / "a": half, tmp_path / "b": half})
    assert missing is not None and "GB free" in missing and str(tmp_path / "a") in missing


def test_the_bench_refuses_a_run_bigger_than_the_disk_before_ingesting(tmp_path: Path) -> None:
    attempts = _free(tmp_path) // BYTES_PER_ATTEMPT["sqlite"] + 1
    done = subprocess.run([sys.executable, str(BENCH), "--attempts", str(attempts), "--backends", "sqlite",
                           "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "will not fit" in done.stderr and "--skip-space-check" in done.stderr
    assert "ingesting" not in done.stdout


def test_without_the_whole_run_export_only_the_store_is_counted(tmp_path: Path) -> None:
    need = bytes_needed("sqlite", 1_000, tmp_path, pg_data_dir=None, run_export=False)
    assert need == {tmp_path: 1_000 * BYTES_PER_ATTEMPT["sqlite"]}
    assert bytes_needed("postgres", 10, tmp_path, None, run_export=False) == {}


def test_a_skipped_export_reads_skipped_not_failed() -> None:
    from store_parts.table import export_cell

    measured = {"s": 2.0, "peak_rss_mb": 300.0, "bytes": 1_000_000}
    result = {"export_memory": {"round": measured}}
    assert export_cell(result, "round").startswith("2.0 / 300")
    assert export_cell(result, "run") == "skipped"
    assert export_cell({**result, "export_memory_error": "disk full"}, "run") == "failed"
