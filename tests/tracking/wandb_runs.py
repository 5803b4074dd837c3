"""Reads an offline W&B run file (`run-<id>.wandb`) back, for tests.

The file is a LevelDB-style log (wandb's own format): a 7-byte header, then 32 KiB
blocks of chunks, each with a 7-byte header (crc32, length, type: 1 full, 2 first,
3 middle, 4 last); each whole record is a `wandb_internal_pb2.Record`.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path

_BLOCK, _HEADER = 32768, 7


def _chunks(data: bytes) -> Iterator[bytes]:
    pos, record = _HEADER, b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        _, length, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        if left < _HEADER or (length == 0 and kind == 0):  # block padding
            pos += left
            continue
        record += data[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        if kind in (1, 4):
            yield record
            record = b""


def records(path: Path, kind: str) -> Iterator:
    from wandb.proto import wandb_internal_pb2 as pb

    for raw in _chunks(path.read_bytes()):
        record = pb.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == kind:
            yield getattr(record, kind)


def wait_for_exit(path: Path, timeout: float = 60.0) -> None:
    """Wait until the run file holds the run's exit record.

    `run.finish()` can return before W&B's writer process (wandb-core) has
    flushed the file: a read right after it sometimes found only the 7-byte
    header (1 run in 3 here). A file still without its exit record after
    `timeout` seconds is a real failure, and the caller's asserts report it.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(True for _ in records(path, "exit")):
            return
        time.sleep(0.1)


def history(path: Path) -> list[dict]:
    """Every `run.log(...)` row of the run, in order."""
    return [{item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in row.item}
            for row in records(path, "history")]


def config_keys(path: Path) -> set[str]:
    return {item.key for config in records(path, "config") for item in config.update}


def run_name(path: Path) -> str:
    """The run's display name (W&B's `name`)."""
    return next(records(path, "run")).display_name
