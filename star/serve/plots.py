"""A run's charts as PNG bytes for the web view, drawn by star/report's matplotlib code.

Drawing takes a fraction of a second per chart, so each PNG is kept in memory
until the run or one of its rounds changes (their `updated_at`).
"""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from db.errors import StoreError
from star.report.charts import plot_accepted, plot_timings
from star.report.table import plot_learning_curve

PLOTS = ("accuracy", "accepted", "timings")
CACHE_SIZE = 64
# Routes run in a thread pool, and matplotlib's pyplot is not thread-safe: one chart at a time.
_LOCK = threading.Lock()


def draw(name: str, run: str, summaries: list[dict[str, Any]]) -> bytes:
    """PNG bytes of chart `name` (one of PLOTS) for these round summaries."""
    if name not in PLOTS:
        raise StoreError(f"unknown plot {name!r}; use one of {', '.join(PLOTS)}")
    with tempfile.TemporaryDirectory(prefix="star-serve-") as scratch:
        out = Path(scratch) / f"{name}.png"
        if name == "accuracy":
            plot_learning_curve(summaries, out, f"{run}: held-out accuracy")
        elif name == "accepted":
            plot_accepted(summaries, out, title=f"{run}: accepted rationales")
        else:
            plot_timings(summaries, out, title=f"{run}: phase timings")
        return out.read_bytes()


def cached(cache: OrderedDict[tuple, bytes], key: tuple, make: Any) -> bytes:
    """`make()` once per `key`; the oldest of more than CACHE_SIZE entries is dropped."""
    with _LOCK:
        return _cached(cache, key, make)


def _cached(cache: OrderedDict[tuple, bytes], key: tuple, make: Any) -> bytes:
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    cache[key] = make()
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return cache[key]
