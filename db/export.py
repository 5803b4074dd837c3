"""Export stored attempts as training data: JSONL, Parquet or a Hugging Face dataset.

SFT rows have TRL's prompt-completion format (`prompt` = the training prompt,
hint removed; `completion` = the rationale) plus provenance columns. `pairs`
rows have TRL's preference format (`prompt`, `chosen`, `rejected`).

Rows stream from the database in batches and go to a temporary path next to
the output, renamed into place only when complete, so a failed export leaves
nothing behind.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from db.errors import StoreError
from db.models import Attempt, Problem, Round, Run
from db.queries import in_rounds, round_ids
from db.store import get_run

FORMATS = ("jsonl", "parquet", "hf")
BATCH_ROWS = 2_000

_PROVENANCE = [
    ("run", pa.string()), ("round", pa.int32()), ("dataset", pa.string()), ("problem", pa.string())
]
SFT_SCHEMA = pa.schema(
    [("prompt", pa.string()), ("completion", pa.string()), ("answer", pa.string()),
     ("rationalized", pa.bool_()), *_PROVENANCE, ("attempt_id", pa.int64())]
)
PAIRS_SCHEMA = pa.schema(
    [("prompt", pa.string()), ("chosen", pa.string()), ("rejected", pa.string()), *_PROVENANCE,
     ("chosen_id", pa.int64()), ("rejected_id", pa.int64())]
)

_COLUMNS = (Attempt.id, Attempt.train_prompt, Attempt.completion, Attempt.kind, Attempt.correct,
            Run.name, Round.index, Problem.dataset, Problem.external_id, Problem.gold)


def check_destination(fmt: str, out: Path) -> None:
    """Refuse a bad format or output path before any work is done."""
    if fmt not in FORMATS:
        raise StoreError(f"unknown export format {fmt!r}; use --format {', '.join(FORMATS)}")
    if out.exists() or out.is_symlink():
        raise StoreError(f"{out} already exists; remove it or choose another --out")
    if not out.parent.is_dir():
        raise StoreError(f"directory {out.parent} does not exist; create it or choose another --out")


def export(
    session: Session,
    run_name: str,
    *,
    round_index: int | None,
    fmt: str,
    out: Path,
    pairs: bool = False,
) -> int:
    """Write a run's (or one round's) training rows to `out`; returns the row count.

    Without `pairs`: the accepted direct and rationalized attempts (what SFT
    trains on). With `pairs`: per round and problem, every incorrect attempt
    paired with a correct one (cycling through the correct ones).
    """
    out = Path(out)
    check_destination(fmt, out)
    query = _base_query(session, run_name, round_index)
    if pairs:
        rows, schema = _pair_rows(session, query), PAIRS_SCHEMA
    else:
        rows, schema = _sft_rows(session, query), SFT_SCHEMA
    return _WRITERS[fmt](_batched(rows), schema, out)


def _base_query(session: Session, run_name: str, round_index: int | None) -> Select:
    ids = round_ids(session, get_run(session, run_name), round_index)
    return (
        select(*_COLUMNS)
        .join(Round, Round.id == Attempt.round_id)
        .join(Run, Run.id == Attempt.run_id)
        .join(Problem, Problem.id == Attempt.problem_id)
        .where(in_rounds(session, ids), Attempt.kind.in_(("direct", "rationalized")))
    )


def _stream(session: Session, query: Select) -> Iterator[Any]:
    # yield_per keeps memory flat however many rows the round has.
    return iter(session.execute(query.execution_options(yield_per=BATCH_ROWS)))


def _provenance(row: Any) -> dict[str, Any]:
    return {"run": row.name, "round": row.index, "dataset": row.dataset, "problem": row.external_id}


def _sft_rows(session: Session, query: Select) -> Iterator[dict[str, Any]]:
    query = query.where(Attempt.accepted.is_(True)).order_by(Attempt.round_id, Attempt.id)
    for row in _stream(session, query):
        yield {"prompt": row.train_prompt, "completion": row.completion, "answer": row.gold,
               "rationalized": row.kind == "rationalized", **_provenance(row),
               "attempt_id": row.id}


def _pair_rows(session: Session, query: Select) -> Iterator[dict[str, Any]]:
    # Ordered like the unique (round_id, problem_id, kind, sample_index) index,
    # so each problem's attempts arrive together without a sort.
    query = query.order_by(Attempt.round_id, Attempt.problem_id, Attempt.kind, Attempt.sample_index)
    groups = itertools.groupby(_stream(session, query), key=lambda r: (r.index, r.external_id, r.dataset))
    for _, attempts in groups:
        by_prompt: dict[str, list[Any]] = {}
        for row in attempts:  # rationalized attempts share the hint-free train_prompt
            by_prompt.setdefault(row.train_prompt, []).append(row)
        for prompt, same in by_prompt.items():
            good = [r for r in same if r.correct]
            bad = [r for r in same if not r.correct]
            for chosen, rejected in zip(itertools.cycle(good), bad) if good else ():
                yield {"prompt": prompt, "chosen": chosen.completion, "rejected": rejected.completion,
                       **_provenance(chosen), "chosen_id": chosen.id, "rejected_id": rejected.id}


def _batched(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, BATCH_ROWS)):
        yield batch


# --- writers: each writes to a temporary path and renames at the end ---------


@contextmanager
def atomic(out: Path) -> Iterator[Path]:
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        if out.exists():  # created by someone else while we were writing
            raise StoreError(f"{out} already exists; remove it or choose another --out")
        os.rename(tmp, out)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def _write_jsonl(batches: Iterable[list[dict]], _schema: pa.Schema, out: Path) -> int:
    count = 0
    with atomic(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for batch in batches:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in batch)
            count += len(batch)
    return count


def _write_tables(writer: Any, batches: Iterable[list[dict]], schema: pa.Schema) -> int:
    """Feed batches to a pyarrow writer (Parquet or IPC stream); returns the row count."""
    count = 0
    for batch in batches:
        writer.write_table(pa.Table.from_pylist(batch, schema=schema))
        count += len(batch)
    return count


def _write_parquet(batches: Iterable[list[dict]], schema: pa.Schema, out: Path) -> int:
    import pyarrow.parquet as pq

    with atomic(out) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        return _write_tables(writer, batches, schema)


def _write_hf(batches: Iterable[list[dict]], schema: pa.Schema, out: Path) -> int:
    import datasets  # slow import; only this format needs it

    scratch_dir = tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.scratch-")
    with atomic(out) as tmp, scratch_dir as scratch:
        # An Arrow stream file is what datasets memory-maps; building the
        # Dataset from it avoids both holding the rows in RAM and writing into
        # the user's ~/.cache/huggingface.
        rows_file = os.path.join(scratch, "rows.arrow")
        with pa.OSFile(rows_file, "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            count = _write_tables(writer, batches, schema)
        datasets.Dataset.from_file(rows_file).save_to_disk(str(tmp))
    return count


_WRITERS: dict[str, Callable[[Iterable[list[dict]], pa.Schema, Path], int]] = {
    "jsonl": _write_jsonl,
    "parquet": _write_parquet,
    "hf": _write_hf,
}
