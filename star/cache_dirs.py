"""The user cache folders star writes to (`~/.cache/star/<kind>` on Linux; `XDG_CACHE_HOME` moves them)."""

from __future__ import annotations

from pathlib import Path


def star_cache(kind: str) -> Path:
    """`<user cache>/star/<kind>`: "models" for seed and converted models, "checkpoints" for a node's
    copies of remote checkpoints."""
    from platformdirs import user_cache_dir  # read at call time, so a changed XDG_CACHE_HOME applies

    return Path(user_cache_dir("star")) / kind
