"""Reading dataset rows from local files or the hub, each row with its location.

JSON and JSON-lines files are read with the standard library rather than
`datasets.load_dataset("json")`: the latter reports a malformed line as an
Arrow error with no line number, and an error that names the line is the
point of this module. Parquet, CSV and hub datasets go through
`datasets.load_dataset`. A row that cannot be read at all (bad JSON, not an
object) is still returned, with `error` set, so that `--skip-invalid` can drop
it like any other bad row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from star.errors import DataError

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


@dataclass(frozen=True)
class Row:
    """One dataset record and where it came from (for error messages)."""

    source: str
    number: int
    data: dict[str, Any] = field(default_factory=dict)
    unit: str = "line"
    error: str | None = None

    def where(self) -> str:
        return f"{self.source}, {self.unit} {self.number}"


def resolve_file(path: str, *, field_name: str) -> Path:
    """The existing file a config path names; relative paths are against the cwd."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(
            f"task.{field_name}: file not found: {file.resolve()} "
            f"(relative paths are resolved against the current directory {Path.cwd()})"
        )
    return file.resolve()


def read_file_rows(path: str, *, field_name: str) -> list[Row]:
    """All rows of a local .jsonl/.json/.parquet/.csv file; DataError when unusable."""
    file = resolve_file(path, field_name=field_name)
    suffix = file.suffix.lower()
    if suffix == ".jsonl":
        rows = _read_json_lines(file)
    elif suffix == ".json":
        rows = _read_json(file)
    elif suffix in (".parquet", ".csv"):
        rows = _read_with_datasets(file, suffix.removeprefix("."))
    else:
        raise DataError(
            f"task.{field_name}: {file}: unsupported file type {suffix or '(none)'!r}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if not rows:
        raise DataError(f"task.{field_name}: {file}: the file has no rows")
    return rows


def _read_json_lines(file: Path) -> list[Row]:
    rows = []
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                rows.append(_row_from_json(str(file), number, line))
    return rows


def _read_json(file: Path) -> list[Row]:
    """A JSON array of objects, or JSON lines saved under a .json name."""
    text = file.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return _read_json_lines(file)
    if not isinstance(document, list):
        raise DataError(f"{file}: expected a JSON array of objects (or one object per line)")
    return [
        _checked_row(str(file), number, record, unit="item")
        for number, record in enumerate(document, start=1)
    ]


def _row_from_json(source: str, number: int, line: str) -> Row:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return Row(source, number, error=f"not valid JSON ({exc.msg} at column {exc.colno})")
    return _checked_row(source, number, record, unit="line")


def _checked_row(source: str, number: int, record: Any, *, unit: str) -> Row:
    if not isinstance(record, dict):
        return Row(source, number, unit=unit, error=f"expected a JSON object, got {type(record).__name__}")
    return Row(source, number, record, unit=unit)


def _read_with_datasets(file: Path, builder: str) -> list[Row]:
    import datasets
    from datasets.exceptions import DatasetsError

    try:
        table = datasets.load_dataset(builder, data_files=str(file), split="train")
    except (OSError, ValueError, DatasetsError) as exc:
        raise DataError(f"{file}: could not read it as {builder}: {exc}") from exc
    # a CSV header is line 1, so data row i sits on line i + 1
    offset, unit = (1, "line") if builder == "csv" else (0, "row")
    return [Row(str(file), i + 1 + offset, dict(record), unit=unit) for i, record in enumerate(table)]


def read_hub_rows(name: str, config: str | None, split: str) -> list[Row]:
    """All rows of a hub dataset split, via `datasets.load_dataset`.

    Offline, `datasets` retries for about half a minute and then raises a
    ConnectionError; that becomes a DataError that says how to work offline.
    """
    import datasets
    from datasets.exceptions import DatasetsError

    label = f"hub dataset {name!r}" + (f" (config {config!r})" if config else "")
    try:
        table = datasets.load_dataset(name, config, split=split)
    except (OSError, ValueError, DatasetsError) as exc:
        raise DataError(
            f"task.hub_name: could not load split {split!r} of {label}: {exc}. "
            "Without network, download the data and set task.train_path / task.eval_path, "
            "or set HF_HUB_OFFLINE=1 to use a copy already in the local datasets cache."
        ) from exc
    source = f"{label} split {split!r}"
    rows = [Row(source, i + 1, dict(record), unit="row") for i, record in enumerate(table)]
    if not rows:
        raise DataError(f"task.hub_name: split {split!r} of {label} has no rows")
    return rows
