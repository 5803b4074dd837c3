"""Every file the README and docs name exists: a moved file or a renamed example fails here, not for a user."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "deploy").rglob("*.md"))]
#: a path inside the repository: one of its top-level folders, then anything up to a file's extension
PATH = re.compile(r"(?<![\w/.~-])((?:star|workers|db|migrations|tests|bench|docs|deploy|examples|scripts)"
                  r"/[\w./-]*\w\.(?:py|md|yaml|yml|png|json|jsonl|toml|sh|service|timer|txt))\b")


def referenced_paths(text: str) -> set[str]:
    return set(PATH.findall(text))


def test_the_pattern_finds_repository_paths() -> None:
    text = "see `star/loop/rounds.py`, docs/cluster.md and examples/gsm8k_gpu.yaml; not ~/.cache/star/x.py"
    assert referenced_paths(text) == {"star/loop/rounds.py", "docs/cluster.md", "examples/gsm8k_gpu.yaml"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_named_file_exists(doc: Path) -> None:
    missing = sorted(path for path in referenced_paths(doc.read_text(encoding="utf-8")) if not (ROOT / path).exists())
    assert not missing, f"{doc.relative_to(ROOT)} names files that do not exist: {missing}"
