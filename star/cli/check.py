"""`star check`: judge predictions against gold answers from the command line.

One pair:   star check --gold 72 --prediction "... #### 72"
A file:     star check --jsonl pairs.jsonl --workers 4 --timeout 5 > verdicts.jsonl

Every line of the file is validated before anything is checked, so a bad line
stops the run with exit code 2 and nothing on stdout.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from star.errors import DataError

_CHUNK = 1000


def _read_rows(path: str) -> list[dict[str, Any]]:
    """Parse and validate every line; raise DataError naming the first bad one."""
    try:
        handle = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from exc
    rows = []
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            rows.append(_parse_row(path, number, line))
    return rows


def _parse_row(path: str, number: int, line: str) -> dict[str, Any]:
    where = f"{path}, line {number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg}); write one JSON object per line") from exc
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object with 'gold' and 'prediction'")
    for key in ("gold", "prediction"):
        if key not in row:
            raise DataError(f"{where}: missing field '{key}'")
    gold = row["gold"]
    if not isinstance(gold, (str, int)) or isinstance(gold, bool):
        raise DataError(f"{where}: 'gold' must be a string (write decimals as strings to keep them exact)")
    if row["prediction"] is not None and not isinstance(row["prediction"], str):
        raise DataError(f"{where}: 'prediction' must be a string or null")
    return row


def _check_file(path: str, workers: int, timeout: float, answer_type: str) -> None:
    from star.checker import Checker

    rows = _read_rows(path)
    with Checker(workers=workers, timeout=timeout) as checker:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            verdicts = checker.check_many([(r["prediction"], str(r["gold"])) for r in chunk],
                                          answer_type=answer_type)
            for row, verdict in zip(chunk, verdicts):
                click.echo(json.dumps({**row, **verdict.to_dict()}, ensure_ascii=False))


@click.command("check")
@click.option("--gold", "-g", help="The gold answer (a number, LaTeX, a tuple / set / interval, a letter, text).")
@click.option("--prediction", "-p", help="The model's output; its final answer is extracted.")
@click.option(
    "--jsonl",
    "jsonl",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="A file of JSON lines with 'gold' and 'prediction' ('-' for stdin); other fields pass through.",
)
@click.option(
    "--workers", "-w", type=click.IntRange(min=1), default=None, help="Checker processes (default: CPUs, at most 8)."
)
@click.option(
    "--timeout",
    "-t",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds per check before its worker is killed.",
)
@click.option(
    "--answer-type",
    type=click.Choice(["number", "symbolic"]),
    default="symbolic",
    show_default=True,
    help="number: the answer must be a number literal, an expression such as 12+44 is not_a_number "
    "(arithmetic, GSM8K); symbolic: any equivalent expression counts (MATH).",
)
def check_command(
    gold: str | None, prediction: str | None, jsonl: str | None, workers: int | None, timeout: float,
    answer_type: str,
) -> None:
    """Judge predictions against gold answers; print JSON verdicts.

    Each verdict has `correct`, `status` (correct, incorrect, no_answer,
    unparseable, timeout, not_a_number) and `extracted` (the answer found in
    the prediction).
    """
    if jsonl is not None:
        if gold is not None or prediction is not None:
            raise click.UsageError("give either --jsonl FILE or --gold and --prediction, not both")
        _check_file(jsonl, workers or min(8, os.cpu_count() or 1), timeout, answer_type)
        return
    if gold is None or prediction is None:
        raise click.UsageError("give --gold and --prediction (or --jsonl FILE)")
    from star.checker import check

    verdict = check(prediction, gold, timeout=timeout, answer_type=answer_type)
    click.echo(json.dumps(verdict.to_dict(), ensure_ascii=False))


COMMANDS: list[click.Command] = [check_command]
