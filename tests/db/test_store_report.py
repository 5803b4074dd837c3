"""`star report` reads both backends: the seeded run of tests/db/conftest.py on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from star.cli import cli, register_commands

register_commands()


def test_report_on_each_backend(store_url: str, seeded: Any, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", "demo", "--db", store_url, "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text()
    assert "<h3>accuracy (eval)</h3>" in page and "75.0%" in page  # round 2's accuracy
    assert "(hint: the answer is 4)" not in page  # rationalized attempts show their training prompt
    assert "steps for" in page  # sample rationales are there
    assert len(list(out.glob("*.png"))) == 4  # accuracy per digits, accepted, tokens generated, timings


def test_report_json_names_the_page(store_url: str, seeded: Any, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", "demo", "--db", store_url, "--out", str(out), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"run": "demo", "page": str((out / "index.html").resolve()),
                                         "folder": str(out.resolve())}
