"""Seed models and checkpoint copies live under one user cache, which XDG_CACHE_HOME moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from star.models.tiny import default_cache_dir
from star.storage.runs import cache_root


def test_models_and_checkpoints_share_the_star_cache_and_follow_xdg(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "star" / "models"
    assert cache_root(None) == tmp_path / "star" / "checkpoints"
    assert cache_root(str(tmp_path / "mine")) == tmp_path / "mine"  # checkpoint_cache wins
