"""Turning dataset rows into problems: field access, gold extraction, validation.

A row parser raises `InvalidRow(field, reason)`; the task adds the file and row
and either raises a DataError or, with `--skip-invalid`, drops the row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from star.tasks.base import Problem
from star.tasks.loading import Row


class InvalidRow(Exception):
    """A row's field is unusable; `reason` says what is wrong with it."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason if field is None else f"field {field!r}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Example:
    """A parsed row: the problem, a worked rationale when the row has one, and
    the content key used for deduplication and overlap checks."""

    problem: Problem
    key: str
    where: str
    rationale: str | None = None


def text_field(row: Row, name: str, *, shown_as: str | None = None) -> str:
    """The field as stripped text; numbers become their decimal text.

    `shown_as` names the field in errors when it is nested (question.stem).
    """
    label = shown_as or name
    if name not in row.data or row.data[name] is None:
        raise InvalidRow(label, "missing")
    value: Any = row.data[name]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidRow(label, f"expected text or a number, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise InvalidRow(label, "empty")
    return text


def optional_text(row: Row, name: str | None) -> str | None:
    """The field as text, or None when the config names no field or the row lacks it."""
    if name is None or row.data.get(name) in (None, ""):
        return None
    return text_field(row, name)


_HASHES = "#### "
_CALCULATOR = re.compile(r"<<[^<>]*>>")
# GSM8K writes thousands as 1,080; the checker compares the plain number
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def after_hashes(text: str, field: str) -> str:
    """The GSM8K gold: what follows the last `#### `, thousands commas removed."""
    if _HASHES not in text:
        raise InvalidRow(field, f"no '{_HASHES.strip()} <answer>' line")
    gold = _THOUSANDS.sub("", text.rsplit(_HASHES, 1)[1].strip())
    if not gold:
        raise InvalidRow(field, f"nothing after '{_HASHES.strip()}'")
    return gold


def before_hashes(text: str) -> str:
    """A GSM8K solution's worked steps: calculator annotations stripped, and no
    blank lines, since a blank line is the separator between few-shot examples."""
    steps = _CALCULATOR.sub("", text.rsplit(_HASHES, 1)[0])
    return "\n".join(line.strip() for line in steps.splitlines() if line.strip())


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), braces balanced."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    open_at = text.index("{", start)
    depth = 0
    for position in range(open_at, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : position].strip() or None
    return None


def require_parsable_gold(gold: str, field: str) -> None:
    """Reject a gold answer the checker could never match, before generation."""
    from star.checker import can_parse_gold

    if not can_parse_gold(gold):
        raise InvalidRow(field, f"the checker cannot parse the gold answer {gold!r}")
